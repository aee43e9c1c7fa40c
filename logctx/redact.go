package logctx

import (
	"net/url"
	"strings"
)

// redactedMark replaces a secret inside a URL, as url.URL.Redacted does.
const redactedMark = "xxxxx"

// RedactURL returns raw fit for a log line, an error or a stored record:
// the password of its user info, every query value and the fragment (where
// webhook and OAuth tokens travel) become "xxxxx"; the scheme, host, path
// and parameter names stay, so the line still says where it went. Text that
// is not a URL but holds "user:password@" loses what is before the "@";
// a URL that does not parse but holds a query is replaced as a whole.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (u.Scheme == "" && strings.Contains(raw, "@")) {
		return redactUnparsed(raw)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redactedMark)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i := range vs {
				vs[i] = redactedMark
			}
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = redactedMark, ""
	}
	return u.String()
}

// redactUnparsed handles what url.Parse refuses or reads as something else
// ("user:pw@host:4222" has scheme "user"): user info goes, and a query makes
// the whole text unprintable.
func redactUnparsed(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		rest := raw[i+1:]
		if strings.ContainsAny(rest, "?#") {
			return "<a URL that does not parse>"
		}
		return redactedMark + "@" + rest
	}
	if strings.ContainsAny(raw, "?#") {
		return "<a URL that does not parse>"
	}
	return raw
}
