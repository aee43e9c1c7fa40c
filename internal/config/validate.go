package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetflow/jetflow/logctx"
	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

const (
	// maxPayloadLimit is the largest max_payload a NATS server accepts (64 MiB).
	maxPayloadLimit = 64 << 20
	// minDuplicateWindow is the shortest window streams.Config accepts.
	minDuplicateWindow = time.Second
)

// validServiceName is what nats.go's micro package accepts as a service name.
func validServiceName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// problems collects Validate's findings, each naming its dotted key.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid})
}

func (p *problems) check(key string, err error) {
	if err != nil {
		*p = append(*p, &FieldError{Key: key, Msg: err.Error(), Err: ErrInvalid})
	}
}

// Validate reports every problem of c at once, joined with errors.Join;
// each is a *FieldError naming its key and matching ErrInvalid. The
// program's sections are checked by their Section.Validate.
func (c Config) Validate() error {
	var p problems
	c.validateNATS(&p)
	c.validateServer(&p)
	c.validateStore(&p)
	c.validateServices(&p)
	c.validateProjections(&p)
	c.validateTopics(&p)
	c.validateProcesses(&p)
	c.validateSubscriptions(&p)
	p.check("dlq.stream", streams.ValidateStreamName(c.DLQ.Stream))
	p.replicas("dlq.replicas", c.DLQ.Replicas)
	p.atLeastDuration("dlq.retention", c.DLQ.Retention, time.Second)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		p.add("log.level", "%q: must be debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		p.add("log.format", "%q: must be text or json", c.Log.Format)
	}
	if c.Metrics.Listen != "" {
		p.check("metrics.listen", checkListen(c.Metrics.Listen, false))
	}
	if c.Health.Listen != "" {
		p.check("health.listen", checkListen(c.Health.Listen, false))
	}
	p.atLeast("health.max_projection_lag", c.Health.MaxProjectionLag, 0)
	c.validateConsole(&p)
	c.validateSections(&p)
	return errors.Join(p...)
}

// ValidateClient is Validate for a process that dials nats.url whatever
// server.embedded says: the client commands (send, query, events, …) and
// the worker. An empty nats.url is fine for serve with the embedded server,
// which does not read it, but not for them; `config check` uses this rule,
// as the file serves them all.
func (c Config) ValidateClient() error {
	err := c.Validate()
	if c.NATS.URL == "" && c.Server.Embedded { // else Validate said so already
		err = errors.Join(err, &FieldError{Key: "nats.url", Err: ErrInvalid,
			Msg: `empty, but the client commands and the worker connect to it (only serve with the embedded server does not); ` +
				`set the server's address, e.g. "nats://127.0.0.1:4222" for an embedded server on the default server.listen`})
	}
	return err
}

func (c Config) validateNATS(p *problems) {
	n := c.NATS
	switch {
	case n.URL == "" && !c.Server.Embedded:
		p.add("nats.url", "required when server.embedded is false")
	case n.URL != "":
		p.check("nats.url", checkNATSURLs(n.URL))
	}
	if n.Credentials != "" && n.NKey != "" {
		p.add("nats.nkey", "set credentials or nkey, not both")
	}
	if n.User != "" && (n.Credentials != "" || n.NKey != "") {
		p.add("nats.user", "set user/password or credentials/nkey, not both")
	}
	if n.Password != "" && n.User == "" {
		p.add("nats.password", "set without nats.user")
	}
	if n.User != "" && n.Password == "" && n.Credentials == "" && n.NKey == "" {
		// Most often a password variable set to "": the client would log
		// in with no password, which only a server without one accepts.
		p.add("nats.password", "empty, but nats.user %q is set (is JETFLOW_NATS_PASSWORD set to an empty value?)", n.User)
	}
	if (n.TLSCert == "") != (n.TLSKey == "") {
		if n.TLSCert == "" {
			p.add("nats.tls_cert", "required with nats.tls_key")
		} else {
			p.add("nats.tls_key", "required with nats.tls_cert")
		}
	}
}

func (c Config) validateServer(p *problems) {
	s := c.Server
	if !s.Embedded {
		return
	}
	p.check("server.listen", checkListen(s.Listen, true))
	if s.StoreDir == "" && s.NATSConfig == "" {
		p.add("server.store_dir", "required for the embedded server (or a server.nats_config that sets it)")
	}
	if s.SyncInterval != "" && s.SyncInterval != "always" {
		if d, err := time.ParseDuration(s.SyncInterval); err != nil || d <= 0 {
			p.add("server.sync_interval", `%q: must be "always", a positive duration such as "10s", or "" for the server's default`, s.SyncInterval)
		}
	}
}

func (c Config) validateStore(p *problems) {
	e := c.Events
	p.check("events.stream", streams.ValidateStreamName(e.Stream))
	p.check("events.subject_prefix", streams.ValidateSubjectPrefix(e.SubjectPrefix))
	p.replicas("events.replicas", e.Replicas)
	if e.MaxEventsPerAppend < 1 || e.MaxEventsPerAppend > streams.MaxBatchEvents {
		p.add("events.max_events_per_append", "%d: must be 1 to %d", e.MaxEventsPerAppend, streams.MaxBatchEvents)
	}
	p.atLeast("events.max_concurrent_batches", e.MaxConcurrentBatches, 1)
	if e.DuplicateWindow < minDuplicateWindow {
		p.add("events.duplicate_window", "%s: must be at least %s", e.DuplicateWindow, minDuplicateWindow)
	}
	p.atLeast("snapshots.every", c.Snapshots.Every, 0)
	p.check("snapshots.bucket", streams.ValidateBucketName(c.Snapshots.Bucket))
	if e.Stream == c.DLQ.Stream {
		p.add("dlq.stream", "%q is also events.stream", c.DLQ.Stream)
	}
}

func (c Config) validateServices(p *problems) {
	cm, q := c.Commands, c.Queries
	if !validServiceName(cm.Service) {
		p.add("commands.service", "%q: use letters, digits, '-' and '_'", cm.Service)
	}
	if !validServiceName(q.Service) {
		p.add("queries.service", "%q: use letters, digits, '-' and '_'", q.Service)
	}
	p.check("commands.subject_prefix", streams.ValidateSubjectPrefix(cm.SubjectPrefix))
	p.check("queries.subject_prefix", streams.ValidateSubjectPrefix(q.SubjectPrefix))
	if !slices.Contains([]string{IdentityAuto, IdentityNATS, IdentityHeader}, cm.Identity) {
		p.add("commands.identity", "%q: must be %s, %s or %s", cm.Identity, IdentityAuto, IdentityNATS, IdentityHeader)
	}
	if !slices.Contains([]string{IdentityAuto, IdentityNATS, IdentityHeader}, q.Identity) {
		p.add("queries.identity", "%q: must be %s, %s or %s", q.Identity, IdentityAuto, IdentityNATS, IdentityHeader)
	}
	p.positive("commands.timeout", cm.Timeout)
	p.atLeast("commands.conflict_retries", cm.ConflictRetries, 0)
	p.atLeast("commands.cache_size", cm.CacheSize, 0)
	if cm.MaxPayload < 1 || cm.MaxPayload > maxPayloadLimit {
		p.add("commands.max_payload", "%d: must be 1 to %d bytes", cm.MaxPayload, maxPayloadLimit)
	}
	p.positive("queries.timeout", q.Timeout)
	if q.MinSequenceWait < 0 {
		p.add("queries.min_sequence_wait", "%s: must not be negative", q.MinSequenceWait)
	}
	// Overlapping prefixes would let the event stream capture commands, or
	// one service answer the other's requests.
	prefixes := []struct{ key, val string }{
		{"events.subject_prefix", c.Events.SubjectPrefix},
		{"commands.subject_prefix", cm.SubjectPrefix},
		{"queries.subject_prefix", q.SubjectPrefix},
	}
	for i, a := range prefixes {
		if a.val == "" {
			continue
		}
		if subjectOverlaps(a.val, "topic") {
			p.add(a.key, "%q overlaps the topic subjects topic.>", a.val)
		}
		for _, b := range prefixes[i+1:] {
			if b.val != "" && subjectOverlaps(a.val, b.val) {
				p.add(b.key, "%q overlaps %s %q", b.val, a.key, a.val)
			}
		}
	}
}

func (c Config) validateProjections(p *problems) {
	buckets := map[string]string{c.Snapshots.Bucket: "snapshots.bucket"}
	for _, name := range mapKeys(c.Projections) {
		pr := c.Projections[name]
		k := "projections." + name + "."
		p.checkName("projections."+name, name)
		if projections.GenerationSuffix(name) || projections.GenerationSuffix(pr.Bucket) {
			p.add(k+"bucket", "%q / %q: a projection name or bucket must not end in _g<number> (rebuilt generations' buckets do)", name, pr.Bucket)
		}
		p.check(k+"bucket", streams.ValidateBucketName(pr.Bucket))
		if other, dup := buckets[pr.Bucket]; dup {
			p.add(k+"bucket", "%q is also %s", pr.Bucket, other)
		}
		buckets[pr.Bucket] = k + "bucket"
		for i, s := range pr.Subjects {
			if err := checkSubject(s); err != nil {
				p.add(k+"subjects", "element %d: %v", i+1, err)
			} else if !subjectOverlaps(s, c.Events.SubjectPrefix) {
				p.add(k+"subjects", "element %d: %q is not under events.subject_prefix %q", i+1, s, c.Events.SubjectPrefix)
			}
		}
		p.atLeast(k+"max_in_flight", pr.MaxInFlight, 1)
		p.atLeast(k+"max_retries", pr.MaxRetries, 0)
		p.backoff(k+"backoff", pr.Backoff)
	}
}

func (c Config) validateProcesses(p *problems) {
	buckets := map[string]string{c.Snapshots.Bucket: "snapshots.bucket"}
	for _, name := range mapKeys(c.Projections) {
		buckets[c.Projections[name].Bucket] = "projections." + name + ".bucket"
	}
	for _, name := range mapKeys(c.Processes) {
		pr := c.Processes[name]
		k := "processes." + name + "."
		p.check("processes."+name, processes.ValidateName(name))
		p.check(k+"bucket", streams.ValidateBucketName(pr.Bucket))
		if other, dup := buckets[pr.Bucket]; dup {
			p.add(k+"bucket", "%q is also %s", pr.Bucket, other)
		}
		buckets[pr.Bucket] = k + "bucket"
		p.checkTopicName(k+"deadline_topic", pr.DeadlineTopic)
		if pr.KeepEnded != 0 {
			p.atLeastDuration(k+"keep_ended", pr.KeepEnded, time.Second)
		}
		p.atLeastDuration(k+"remember_ended", pr.RememberEnded, time.Second)
		p.atLeast(k+"concurrency", pr.Concurrency, 1)
		if pr.Concurrency > 4096 {
			p.add(k+"concurrency", "%d: at most 4096", pr.Concurrency)
		}
		p.atLeast(k+"max_retries", pr.MaxRetries, 0)
		p.backoff(k+"backoff", pr.Backoff)
	}
}

func (c Config) validateTopics(p *problems) {
	for _, name := range mapKeys(c.Topics) {
		t := c.Topics[name]
		k := "topics." + name + "."
		p.checkTopicName("topics."+name, name)
		p.atLeastDuration(k+"retention", t.Retention, time.Second)
		p.replicas(k+"replicas", t.Replicas)
		p.atLeast(k+"max_retries", t.MaxRetries, 0)
		p.backoff(k+"backoff", t.Backoff)
		p.atLeastDuration(k+"duplicate_window", t.DuplicateWindow, time.Second)
		if t.DuplicateWindow > t.Retention {
			p.add(k+"duplicate_window", "%s: must not exceed retention %s", t.DuplicateWindow, t.Retention)
		}
	}
}

func (c Config) validateSubscriptions(p *problems) {
	for _, name := range mapKeys(c.Subscriptions) {
		s := c.Subscriptions[name]
		k := "subscriptions." + name + "."
		p.checkName("subscriptions."+name, name)
		switch {
		case s.Topic != "":
			p.checkTopicName(k+"topic", s.Topic)
		case len(s.Subjects) == 0:
			p.add(k+"topic", "set a topic, or event subjects in subjects")
		}
		for i, subj := range s.Subjects {
			if err := checkSubject(subj); err != nil {
				p.add(k+"subjects", "element %d: %v", i+1, err)
			} else if s.Topic == "" && !subjectOverlaps(subj, c.Events.SubjectPrefix) {
				// Topic subjects are keys, relative to the topic; event
				// subjects are absolute and must be in the event stream.
				p.add(k+"subjects", "element %d: %q is not under events.subject_prefix %q", i+1, subj, c.Events.SubjectPrefix)
			}
		}
		if s.Mode != ModeQueue && s.Mode != ModePubSub {
			p.add(k+"mode", "%q: must be %s or %s", s.Mode, ModeQueue, ModePubSub)
		}
		f := s.Filter
		switch {
		case f.Field == "" && (f.Op != "" || f.Value != nil):
			p.add(k+"filter_field", "required with filter_op and filter_value")
		case f.Field != "":
			if !slices.Contains([]string{OpEquals, OpNotEquals, OpContains, OpGreaterThan, OpLessThan}, f.Op) {
				p.add(k+"filter_op", "%q: must be equals, not_equals, contains, greater_than or less_than", f.Op)
			}
			if f.Value == nil {
				p.add(k+"filter_value", "required with filter_field")
			}
			if strings.HasPrefix(f.Field, ".") || strings.HasSuffix(f.Field, ".") || strings.Contains(f.Field, "..") {
				p.add(k+"filter_field", "%q: empty path element", f.Field)
			}
		}
		if s.Webhook.URL != "" {
			u, err := url.Parse(s.Webhook.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.add(k+"webhook_url", "%q: must be an absolute http or https URL", logctx.RedactURL(s.Webhook.URL))
			}
		}
		if s.Webhook.Redirects != RedirectsNone && s.Webhook.Redirects != RedirectsSameOrigin {
			p.add(k+"webhook_redirects", "%q: must be %s or %s", s.Webhook.Redirects, RedirectsNone, RedirectsSameOrigin)
		}
		for i, h := range s.Webhook.Headers {
			// The value is a secret: only the name may be printed.
			name, _, ok := strings.Cut(h, ":")
			if name = strings.TrimSpace(name); !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
				p.add(k+"webhook_headers", `element %d: want "Name: value"`, i+1)
			}
		}
		p.positive(k+"webhook_timeout", s.Webhook.Timeout)
		p.atLeast(k+"concurrency", s.Concurrency, 1)
		p.atLeast(k+"max_retries", s.MaxRetries, InheritRetries)
		p.backoff(k+"backoff", s.Backoff)
	}
}

func (p *problems) replicas(key string, n int) {
	if n < 1 || n > 5 {
		p.add(key, "%d: must be 1 to 5", n)
	}
}

func (p *problems) atLeast(key string, n, least int) {
	if n < least {
		p.add(key, "%d: must be at least %d", n, least)
	}
}

func (p *problems) positive(key string, d time.Duration) {
	if d <= 0 {
		p.add(key, "%s: must be positive", d)
	}
}

func (p *problems) backoff(key string, delays []time.Duration) {
	for i, d := range delays {
		if d <= 0 {
			p.add(key, "element %d: %s: must be positive", i+1, d)
		}
	}
}

func (p *problems) atLeastDuration(key string, d, least time.Duration) {
	if d < least {
		p.add(key, "%s: must be at least %s", d, least)
	}
}

// maxNameLen bounds entry names: they become stream and consumer names.
const maxNameLen = 64

// checkName checks a projection or subscription name: it becomes a
// consumer name and a subject token.
func (p *problems) checkName(key, name string) {
	if len(name) > maxNameLen || !isName(name) || name[0] == '_' || name[0] == '-' {
		p.add(key, "invalid name %q: 1 to %d letters, digits, '_' and '-', first a letter or digit", name, maxNameLen)
	}
}

// checkTopicName checks a topic name. Lower case only, as consumers
// requires: the stream TOPIC_<NAME> must map back to exactly one topic.
func (p *problems) checkTopicName(key, name string) {
	if strings.ToLower(name) != name {
		p.add(key, "invalid topic name %q: lower case only", name)
		return
	}
	p.checkName(key, name)
}

// checkListen checks a host:port listen address; the host may be empty
// (every interface) and the port 0 (any free port). The NATS server also
// takes -1 for a random port; an HTTP listener does not.
func checkListen(addr string, natsServer bool) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: must be host:port", addr)
	}
	lowest, text := 0, "0 to 65535"
	if natsServer {
		lowest, text = -1, "-1 to 65535"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < lowest || n > 65535 {
		return fmt.Errorf("%q: port must be a number from %s", addr, text)
	}
	return nil
}

// checkNATSURLs accepts what nats.go connects to: URLs of its schemes,
// and host:port (or a host alone) with no scheme, which it reads as nats://.
func checkNATSURLs(urls string) error {
	for raw := range strings.SplitSeq(urls, ",") {
		raw = strings.TrimSpace(raw)
		full := raw
		if !strings.Contains(raw, "://") {
			full = "nats://" + raw
		}
		u, err := url.Parse(full)
		if err != nil || u.Host == "" {
			return fmt.Errorf("%q: must be a URL such as nats://host:4222", RedactNATSURLs(raw))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%q: scheme must be nats, tls, ws or wss", RedactNATSURLs(raw))
		}
	}
	return nil
}

// checkSubject checks a subject or subject filter.
func checkSubject(s string) error {
	if s == "" {
		return errors.New("empty subject")
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("%q: empty token", s)
		case t == ">" && i != len(toks)-1:
			return fmt.Errorf("%q: '>' must be the last token", s)
		case t != "*" && t != ">" && strings.ContainsAny(t, "*> \t\r\n"):
			return fmt.Errorf("%q: invalid token %q", s, t)
		}
	}
	return nil
}

// subjectOverlaps reports whether subject s lies under prefix (a literal
// subject such as "events" or "topic.orders"), or prefix under s.
func subjectOverlaps(s, prefix string) bool {
	a, b := strings.Split(s, "."), strings.Split(prefix, ".")
	for i := range min(len(a), len(b)) {
		if a[i] == ">" || b[i] == ">" {
			return true
		}
		if a[i] != b[i] && a[i] != "*" && b[i] != "*" {
			return false
		}
	}
	return true
}

// minConsoleToken is the shortest console token accepted: a guessable
// secret guards rebuilds, replays and commands no better than none.
const minConsoleToken = 16

// validateConsole checks [console]: an address to serve on, and a token
// whenever it can be reached from beyond the machine.
func (c Config) validateConsole(p *problems) {
	cc := c.Console
	if cc.Listen != "" {
		p.check("console.listen", checkListen(cc.Listen, false))
	}
	if cc.Token != "" && len(cc.Token) < minConsoleToken {
		p.add("console.token", "%d characters: must be at least %d", len(cc.Token), minConsoleToken)
	}
	if !cc.Enabled {
		return
	}
	addr := c.ConsoleListen()
	switch {
	case addr == "":
		p.add("console.listen", "the console is enabled but has no address: set console.listen, or metrics.listen to serve it beside /metrics")
	case cc.Token == "" && !ListenIsLoopback(addr):
		p.add("console.token", "required: the console listens on %s, beyond loopback, and can rebuild, replay and send commands; set JETFLOW_CONSOLE_TOKEN (at least %d characters), or listen on 127.0.0.1", addr, minConsoleToken)
	}
}

// ListenIsLoopback reports whether a host:port listen address accepts
// connections from this machine only: a loopback IP (127.0.0.0/8, ::1) or
// "localhost". An empty host (every interface) or any other name is not.
func ListenIsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
