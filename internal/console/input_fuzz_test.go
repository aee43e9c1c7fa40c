package console

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Every decoder of a query string or form body the console reads: for any
// input it returns a value or an *InputError, never panics, and a value it
// accepts holds what the handlers rely on.

func values(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Skip() // net/http answers 400 before the console sees it
	}
	return v
}

func inputOnly(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("error not matching ErrInvalidInput: %v", err)
	}
}

func FuzzParseAggregateQuery(f *testing.F) {
	for _, s := range []string{"", "type=user&id=u1", "type=user&id=u%3A1&causation=c&after=3", "id=x", "type=a.b", "type=user&id=%E2%80%8B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseAggregateQuery(values(t, raw))
		inputOnly(t, err)
		if err != nil {
			return
		}
		if q.ID != "" && (streams.ValidateAggregateType(q.Type) != nil || streams.ValidateAggregateID(q.ID) != nil) {
			t.Fatalf("accepted an id that could not be a subject: %+v", q)
		}
		if q.Causation != "" && (q.ID == "" || wire.HasControl(q.Causation) || len(q.Causation) > maxText) {
			t.Fatalf("accepted causation %q", q.Causation)
		}
	})
}

func FuzzParseProcessQuery(f *testing.F) {
	for _, s := range []string{"", "name=payment", "name=payment&id=o-1", "id=o-1", "name=pay.ment", "name=payment&id=%00", "name=payment&id=a&id=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseProcessQuery(values(t, raw))
		inputOnly(t, err)
		if err != nil {
			return
		}
		if q.Name != "" && processes.ValidateName(q.Name) != nil {
			t.Fatalf("accepted name %q", q.Name)
		}
		if q.ID != "" && (q.Name == "" || processes.ValidateInstanceID(q.ID) != nil) {
			t.Fatalf("accepted instance %+v", q)
		}
	})
}

func FuzzParseDLQFilter(f *testing.F) {
	for _, s := range []string{"", "topic=orders&reason=x&min_age=1h&max_age=2h", "after=5", "topic=Bad", "subject=%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		flt, err := parseDLQFilter(values(t, raw))
		inputOnly(t, err)
		if err != nil {
			return
		}
		if flt.MinAge < 0 || flt.MaxAge < 0 || (flt.MaxAge > 0 && flt.MinAge > flt.MaxAge) {
			t.Fatalf("accepted ages %+v", flt)
		}
		for _, s := range []string{flt.Subscription, flt.Stream, flt.Consumer, flt.Subject, flt.Reason} {
			if !utf8.ValidString(s) || wire.HasControl(s) || len(s) > maxText {
				t.Fatalf("accepted text %q", s)
			}
		}
		back, err := parseDLQFilter(values(t, flt.query(flt.After)))
		if err != nil || back != flt {
			t.Fatalf("the next page's query does not read back: %+v -> %+v, %v", flt, back, err)
		}
	})
}

func FuzzParseReplayForm(f *testing.F) {
	for _, s := range []string{"id=1&dry_run=true", "id=1&id=2&id=1&dry_run=false&csrf=x", "id=0&dry_run=true", "dry_run=yes"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := parseReplayForm(values(t, raw))
		inputOnly(t, err)
		if err != nil {
			return
		}
		seen := map[uint64]bool{}
		for _, id := range form.IDs {
			if id == 0 || seen[id] {
				t.Fatalf("accepted ids %v", form.IDs)
			}
			seen[id] = true
		}
		if len(form.IDs) == 0 || len(form.IDs) > maxReplayIDs {
			t.Fatalf("accepted %d ids", len(form.IDs))
		}
	})
}

func FuzzParseProjectionAction(f *testing.F) {
	for _, s := range []string{"name=users", "name=users&seq=4", "name=a.b", "name=&seq=0"} {
		f.Add(s, actionSkip)
		f.Add(s, actionRebuild)
	}
	f.Fuzz(func(t *testing.T, raw, action string) {
		a, err := parseProjectionAction(values(t, raw), action)
		inputOnly(t, err)
		if err != nil {
			return
		}
		if checkProjectionName(a.Name) != nil || strings.ContainsAny(a.Name, ".*> ") {
			t.Fatalf("accepted name %q", a.Name)
		}
		if action == actionSkip && a.Seq == 0 {
			t.Fatal("accepted a skip of sequence 0")
		}
	})
}

func FuzzParseCommandForm(f *testing.F) {
	for _, s := range []string{"command=user.create&body=%7B%7D", "command=user&body=x", "command=a.b&body=%7B&expected_version=1", "command=a.b.c&body=1&command_id=%0A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := parseCommandForm(values(t, raw), 1024)
		inputOnly(t, err)
		if err != nil {
			return
		}
		if checkCommandName(form.Command) != nil || strings.Count(form.Command, ".") != 1 {
			t.Fatalf("accepted command %q", form.Command)
		}
		if len(form.Body) > 1024 || strings.TrimSpace(form.Body) == "" {
			t.Fatalf("accepted body of %d bytes", len(form.Body))
		}
		if wire.HasControl(form.CommandID) || len(form.CommandID) > maxText {
			t.Fatalf("accepted command id %q", form.CommandID)
		}
	})
}

func FuzzParseLoginForm(f *testing.F) {
	for _, s := range []string{"token=abc&next=%2Fui%2Fdlq", "token=x&next=%2F%2Fevil", "next=https%3A%2F%2Fevil%2Fui%2F", "token=a&next=%2Fui%2F..%2Fmetrics"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := parseLoginForm(values(t, raw))
		inputOnly(t, err)
		if err != nil {
			return
		}
		u, perr := url.Parse(form.Next)
		if perr != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(form.Next, basePath) || strings.HasPrefix(form.Next, "//") {
			t.Fatalf("accepted next %q: it could leave the console", form.Next)
		}
	})
}
