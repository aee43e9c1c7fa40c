package console

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/consumers"
)

func TestParseAggregateQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q    string
		want aggregateQuery
		errs []string // fields named in the error
	}{
		{q: "", want: aggregateQuery{}},
		{q: "type=user", want: aggregateQuery{Type: "user"}},
		{q: "type=user&id=u%3A42&after=7&causation=c-1", want: aggregateQuery{Type: "user", ID: "u:42", After: 7, Causation: "c-1"}},
		{q: "id=x", errs: []string{"type"}},
		{q: "type=a.b&id=x.y", errs: []string{"type", "id"}},
		{q: "type=user&causation=c", errs: []string{"causation"}},
		{q: "type=user&id=x&causation=%20c", errs: []string{"causation"}},
		{q: "type=user&id=x&after=-1", errs: []string{"after"}},
		{q: "type=user&type=team", errs: []string{"type"}},
		{q: "type=user&page=2", errs: []string{"page"}},
	} {
		v, _ := url.ParseQuery(tc.q)
		got, err := parseAggregateQuery(v)
		checkFields(t, tc.q, err, tc.errs)
		if len(tc.errs) == 0 && got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.q, got, tc.want)
		}
	}
}

// checkFields asserts that err names exactly the fields want (none: no
// error), each as an *InputError matching ErrInvalidInput.
func checkFields(t *testing.T, input string, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("%q: %v", input, err)
		}
		return
	}
	if !errors.Is(err, ErrInvalidInput) {
		t.Errorf("%q: %v, want ErrInvalidInput", input, err)
		return
	}
	for _, f := range want {
		if !strings.Contains(err.Error(), f+":") {
			t.Errorf("%q: %v does not name %s", input, err, f)
		}
	}
}

func TestParseDLQFilter(t *testing.T) {
	t.Parallel()
	v, _ := url.ParseQuery("topic=orders&subscription=billing&stream=TOPIC_ORDERS&consumer=billing&subject=order.&reason=timeout&min_age=1m&max_age=2h&after=9")
	got, err := parseDLQFilter(v)
	want := dlqFilter{Topic: "orders", Subscription: "billing", Stream: "TOPIC_ORDERS", Consumer: "billing", Subject: "order.", Reason: "timeout",
		MinAge: time.Minute, MaxAge: 2 * time.Hour, After: 9}
	if err != nil || got != want {
		t.Fatalf("%+v, %v", got, err)
	}
	// The next page's link reads back to the same filter.
	back, _ := url.ParseQuery(got.query(got.After))
	if again, err := parseDLQFilter(back); err != nil || again != got {
		t.Errorf("query round trip: %+v, %v", again, err)
	}
	for q, fields := range map[string][]string{
		"topic=Orders":                       {"topic"},
		"min_age=soon":                       {"min_age"},
		"max_age=-1h":                        {"max_age"},
		"min_age=2h&max_age=1h":              {"max_age"},
		"reason=" + strings.Repeat("x", 300): {"reason"},
		"subject=a%00b":                      {"subject"},
		"after=1e3":                          {"after"},
		"limit=5":                            {"limit"},
	} {
		v, _ := url.ParseQuery(q)
		_, err := parseDLQFilter(v)
		checkFields(t, q, err, fields)
	}
}

func TestDLQFilterMatch(t *testing.T) {
	t.Parallel()
	now := time.Now()
	dl := consumers.DeadLetter{Stream: "TOPIC_ORDERS", Consumer: "billing", Reason: "Payment TIMEOUT", Time: now.Add(-time.Hour),
		Original: &consumers.Original{Subject: "topic.orders.normal.order.created"}}
	for f, want := range map[dlqFilter]bool{
		{}:                         true,
		{Stream: "TOPIC_ORDERS"}:   true,
		{Stream: "EVENTS"}:         false,
		{Consumer: "shipping"}:     false,
		{Subject: "order.created"}: true,
		{Subject: "order.paid"}:    false,
		{Reason: "timeout"}:        true,
		{MinAge: 30 * time.Minute}: true,
		{MinAge: 2 * time.Hour}:    false,
		{MaxAge: 30 * time.Minute}: false,
		{MaxAge: 2 * time.Hour}:    true,
	} {
		if got := f.match(dl, now); got != want {
			t.Errorf("%+v.match = %v, want %v", f, got, want)
		}
	}
	gone := dl
	gone.Original = nil
	if (dlqFilter{Subject: "order"}).match(gone, now) {
		t.Error("a subject filter matched a dead letter whose original is gone")
	}
}

func TestParseReplayForm(t *testing.T) {
	t.Parallel()
	v := url.Values{"id": {"3", "1", "3"}, "dry_run": {"false"}, "csrf": {"t"}}
	got, err := parseReplayForm(v)
	if err != nil || got.DryRun || len(got.IDs) != 2 || got.IDs[0] != 3 || got.IDs[1] != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	many := make([]string, maxReplayIDs+1)
	for i := range many {
		many[i] = "1"
	}
	for name, v := range map[string]url.Values{
		"no id":      {"dry_run": {"true"}},
		"zero":       {"id": {"0"}, "dry_run": {"true"}},
		"word":       {"id": {"one"}, "dry_run": {"true"}},
		"too many":   {"id": many, "dry_run": {"true"}},
		"no dry_run": {"id": {"1"}},
		"dry_run=1":  {"id": {"1"}, "dry_run": {"1"}},
		"extra":      {"id": {"1"}, "dry_run": {"true"}, "all": {"true"}},
	} {
		if _, err := parseReplayForm(v); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
}

func TestParseProjectionAction(t *testing.T) {
	t.Parallel()
	if a, err := parseProjectionAction(url.Values{"name": {"users"}, "seq": {"42"}}, actionSkip); err != nil || a.Name != "users" || a.Seq != 42 {
		t.Errorf("skip: %+v, %v", a, err)
	}
	for name, tc := range map[string]struct {
		v      url.Values
		action string
	}{
		"skip without seq":     {url.Values{"name": {"users"}}, actionSkip},
		"seq on a resume":      {url.Values{"name": {"users"}, "seq": {"1"}}, actionResume},
		"no name":              {url.Values{}, actionRebuild},
		"name with a dot":      {url.Values{"name": {"a.b"}}, actionRebuild},
		"name starting with _": {url.Values{"name": {"_x"}}, actionRebuild},
		"name too long":        {url.Values{"name": {strings.Repeat("a", 65)}}, actionRebuild},
	} {
		if _, err := parseProjectionAction(tc.v, tc.action); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
}

func TestParseCommandForm(t *testing.T) {
	t.Parallel()
	got, err := parseCommandForm(url.Values{"command": {"user.create"}, "body": {` {"a":1} `}, "command_id": {"c-1"}, "expected_version": {"0"}}, 100)
	if err != nil || got.Command != "user.create" || got.CommandID != "c-1" || got.ExpectedVersion == nil || *got.ExpectedVersion != 0 {
		t.Fatalf("%+v, %v", got, err)
	}
	for name, tc := range map[string]struct {
		v      url.Values
		fields []string
	}{
		"no command":      {url.Values{"body": {"{}"}}, []string{"command"}},
		"one token":       {url.Values{"command": {"user"}, "body": {"{}"}}, []string{"command"}},
		"three tokens":    {url.Values{"command": {"a.b.c"}, "body": {"{}"}}, []string{"command"}},
		"wildcard":        {url.Values{"command": {"user.*"}, "body": {"{}"}}, []string{"command"}},
		"empty body":      {url.Values{"command": {"a.b"}, "body": {"  "}}, []string{"body"}},
		"invalid JSON":    {url.Values{"command": {"a.b"}, "body": {"{"}}, []string{"body"}},
		"two values":      {url.Values{"command": {"a.b"}, "body": {"{} {}"}}, []string{"body"}},
		"too large":       {url.Values{"command": {"a.b"}, "body": {`"` + strings.Repeat("x", 200) + `"`}}, []string{"body"}},
		"version":         {url.Values{"command": {"a.b"}, "body": {"{}"}, "expected_version": {"v1"}}, []string{"expected_version"}},
		"control char id": {url.Values{"command": {"a.b"}, "body": {"{}"}, "command_id": {"a\nb"}}, []string{"command_id"}},
	} {
		_, err := parseCommandForm(tc.v, 100)
		checkFields(t, name, err, tc.fields)
	}
}

func TestParseNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": basePath, "/ui/dlq?topic=a": "/ui/dlq?topic=a", "/ui/": "/ui/"} {
		if got, err := parseNext(in); err != nil || got != want {
			t.Errorf("parseNext(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"//evil.example/ui/", "https://evil.example/ui/", "/metrics", "/ui/../metrics", `/ui/\evil`, "javascript:alert(1)", "/ui/%0d%0aSet-Cookie:x"} {
		if got, err := parseNext(bad); err == nil {
			t.Errorf("parseNext(%q) = %q, want an error", bad, got)
		}
	}
}
