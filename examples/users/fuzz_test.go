package users_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// FuzzCommandDecoders feeds arbitrary bodies to the strict decoder and the
// validation of every User command: no panic, and what is accepted is valid.
func FuzzCommandDecoders(f *testing.F) {
	for _, seed := range []string{
		`{"username":"alice","email":"alice@example.com"}`,
		`{"id":"u1","username":"bob_1","email":"b@example.org"}`,
		`{"id":"u1","email":"x@y.z"}`, `{"id":"u1","status":"suspended"}`,
		`{"username":`, `[]`, `null`, `{"id":"a.b"}`, `{} {}`, `{"username":"a","x":1}`,
		// Ids that are not Unicode, or show nothing.
		`{"id":"\ud800","username":"alice","email":"a@example.com"}`, `{"id":"\udbff","email":"x@y.z"}`,
		"{\"id\":\"\xff\",\"status\":\"active\"}", `{"id":"\u200b","status":"active"}`,
		`{"id":"\ud83d\ude00","username":"smiley","email":"s@example.com"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var c users.Create
		if wire.DecodeStrict(body, &c) == nil && c.Validate() == nil {
			if len(c.Username) < 3 || len(c.Username) > 32 || c.Email == "" {
				t.Fatalf("accepted invalid create %+v", c)
			}
		}
		var u users.Update
		if wire.DecodeStrict(body, &u) == nil && u.Validate() == nil && u.Username == nil && u.Email == nil {
			t.Fatalf("accepted an empty update %+v", u)
		}
		var s users.ChangeStatus
		if wire.DecodeStrict(body, &s) == nil && s.Validate() == nil {
			if !users.ValidStatus(s.Status) {
				t.Fatalf("accepted status %q", s.Status)
			}
			if streams.ValidateAggregateID(s.ID) == nil && strings.ContainsRune(s.ID, utf8.RuneError) && !strings.Contains(strings.ToLower(string(body)), `\ufffd`) && !strings.Contains(string(body), "\uFFFD") {
				t.Fatalf("id %q was rewritten from %q", s.ID, body)
			}
		}
	})
}
