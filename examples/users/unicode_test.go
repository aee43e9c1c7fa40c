package users_test

import (
	"strings"
	"testing"

	"github.com/jetflow/jetflow/internal/natstest"
)

// TestIDsThatAreNotUnicodeAreRefused: the JSON decoder turned "\ud800",
// "\udbff" and a raw 0xff into the same U+FFFD, so an update sent with id
// "\udbff" changed the user created as "\ud800". Every such body is a 400
// naming the problem, in any field, and an id of only a zero-width space
// is refused too. Nothing is written.
func TestIDsThatAreNotUnicodeAreRefused(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	before := streamLastSeq(t, n)
	for _, tc := range []struct {
		name, subject, body, mention string
	}{
		{"create lone high surrogate", "cmd.user.create", `{"id":"\ud800","username":"surrogate","email":"s@example.com"}`, `field "id": lone surrogate \ud800`},
		{"update another lone high surrogate", "cmd.user.update", `{"id":"\udbff","email":"changed@example.com"}`, `field "id": lone surrogate \udbff`},
		{"update lone low surrogate", "cmd.user.update", `{"id":"\udc00","email":"changed@example.com"}`, `field "id": lone surrogate \udc00`},
		{"create raw 0xff id", "cmd.user.create", "{\"id\":\"\xff\",\"username\":\"rawbyte\",\"email\":\"r@example.com\"}", `not valid UTF-8 at byte 7 (field "id")`},
		{"update raw 0xfe id", "cmd.user.update", "{\"id\":\"\xfe\",\"email\":\"changed@example.com\"}", `not valid UTF-8 at byte 7 (field "id")`},
		{"lone surrogate in email", "cmd.user.create", `{"username":"mail","email":"m\ud800@example.com"}`, `field "email": lone surrogate`},
		{"zero-width space id", "cmd.user.create", `{"id":"\u200b","username":"invisible","email":"i@example.com"}`, "no visible character"},
		{"zero-width space id, raw", "cmd.user.create", "{\"id\":\"\u200b\",\"username\":\"invisible\",\"email\":\"i@example.com\"}", "no visible character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := (&client{t: t, nc: c.nc}).send(tc.subject, tc.body, nil)
			if r.err == nil {
				t.Fatalf("succeeded: %+v", r.ok)
			}
			if r.err.Status != 400 || !strings.Contains(r.err.Message, tc.mention) {
				t.Fatalf("got %d %s %q, want 400 mentioning %q", r.err.Status, r.err.Code, r.err.Message, tc.mention)
			}
		})
	}
	if after := streamLastSeq(t, n); after != before {
		t.Fatalf("EVENTS changed: last sequence %d -> %d", before, after)
	}
	// A proper pair is one character, and an id of its own.
	r := c.mustSend("cmd.user.create", `{"id":"\ud83d\ude00","username":"smiley","email":"smiley@example.com"}`, nil)
	if r.AggregateID != "\U0001F600" {
		t.Fatalf("created %q, want the character the pair encodes", r.AggregateID)
	}
}

// TestQueriesRefuseTextThatIsNotUnicode: a query body goes through the same
// check, and an unknown query's 404 lists the known "queries".
func TestQueriesRefuseTextThatIsNotUnicode(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startReadSide(t, n)
	c := newClient(t, srv.URL)
	for body, mention := range map[string]string{
		`{"id":"\ud800"}`:       `field "id": lone surrogate \ud800`,
		"{\"id\":\"\xff\"}":     `not valid UTF-8 at byte 7`,
		`{"id":"\u200b\u200d"}`: "no visible character",
	} {
		e := c.query("query.users.get", body, nil)
		if e == nil || e.Status != 400 || !strings.Contains(e.Message, mention) {
			t.Errorf("get %q: %+v, want a 400 mentioning %q", body, e, mention)
		}
	}
	e := c.query("query.users.search", `{}`, nil)
	if e == nil || e.Status != 404 || !strings.Contains(e.Message, "known queries: query.users.get") {
		t.Errorf("unknown query: %+v, want a 404 listing the known queries", e)
	}
}
