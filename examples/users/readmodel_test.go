package users_test

import (
	"testing"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
)

// TestReadYourWrites: a user created through the command service is
// returned by query.users.get with the command's sequence as min_sequence,
// at once, 20 times in a row, without any sleep.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startReadSide(t, n)
	c := newClient(t, srv.URL)
	for i := range 20 {
		name := "ryw_" + string(rune('a'+i))
		created := c.create(name)
		var rec users.Record
		if e := c.query("query.users.get", map[string]any{"id": created.AggregateID, "min_sequence": created.Sequence}, &rec); e != nil {
			t.Fatalf("round %d: get: %+v", i, e)
		}
		if rec.ID != created.AggregateID || rec.Username != name || rec.Status != users.StatusActive || rec.Version != 1 {
			t.Fatalf("round %d: record %+v", i, rec)
		}
	}
}
