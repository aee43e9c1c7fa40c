package users_test

import (
	"errors"
	"testing"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// FuzzQueryDecoders feeds arbitrary bodies to the decoders of
// query.users.get and query.users.list: no panic, every refusal is a 400,
// and what is accepted is within the limits.
func FuzzQueryDecoders(f *testing.F) {
	for _, seed := range []string{
		`{}`, ``, `{"id":"u1"}`, `{"id":"u1","min_sequence":42}`, `{"page":3,"per_page":100,"status":"active"}`,
		`{"page":-1}`, `{"per_page":0}`, `{"status":"gone"}`, `{"page":`, `[]`, `null`, `{} {}`, `{"sort":1}`,
		`{"page":1e3}`, `{"id":"a.b"}`, `{"min_sequence":-1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if g, err := projections.DecodeQuery[users.GetRequest](body); err == nil {
			if streams.ValidateAggregateID(g.ID) != nil {
				t.Fatalf("accepted get of id %q", g.ID)
			}
		} else if !is400(err) {
			t.Fatalf("get refused without a 400: %v", err)
		}
		l, err := projections.DecodeQuery[users.ListRequest](body)
		if err != nil {
			if !is400(err) {
				t.Fatalf("list refused without a 400: %v", err)
			}
			return
		}
		page, per := l.PageAndSize()
		if page < 0 || per < 1 || per > users.MaxPerPage || (l.Status != "" && !users.ValidStatus(l.Status)) {
			t.Fatalf("accepted list %+v (page %d, per_page %d)", l, page, per)
		}
		if items, total := users.NewDirectory().List(l.Status, page, per); len(items) != 0 || total != 0 {
			t.Fatalf("empty directory listed %d of %d", len(items), total)
		}
	})
}

func is400(err error) bool {
	var e *wire.Error
	return errors.As(err, &e) && e.Status == wire.StatusInvalid && e.Message != ""
}
