package projections_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A record write that reaches the bucket late — held in a partitioned
// route, or sent by a process that has since lost the lease — lands after
// newer writes of the same record. Every write names the bucket sequence
// it follows, so the late one is refused and the record keeps its newer
// value (chaos runs saw unconditional puts roll records back).
func TestALateWriteCannotRollARecordBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	var writes []*nats.Msg
	sub, err := e.nc.Subscribe("$KV.>", func(m *nats.Msg) {
		if strings.HasSuffix(m.Subject, ".a") {
			mu.Lock()
			writes = append(writes, m)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r := e.startRunner(t, e.nc, counterProjection(&counterHandler{}))
	first := e.appendNotes(t, "a", "one")
	waitFor(t, "one applied", func() bool { return status(t, r, "counters").LastApplied >= first })
	second := e.appendNotes(t, "a", "two")
	waitFor(t, "two applied", func() bool { return status(t, r, "counters").LastApplied >= second })

	mu.Lock()
	if len(writes) < 2 {
		mu.Unlock()
		t.Fatalf("%d writes of record a seen, want 2", len(writes))
	}
	late := writes[0]
	mu.Unlock()
	_, err = e.js.PublishMsg(ctxT(t), &nats.Msg{Subject: late.Subject, Data: late.Data, Header: late.Header})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
		t.Fatalf("the first write of record a, sent again after the second: err = %v, want wrong last sequence", err)
	}
	bucket := strings.Split(late.Subject, ".")[1]
	if c, ok := e.record(t, bucket, "a"); !ok || c.Count != 2 {
		t.Fatalf("record a = %+v after a late write, want its 2 notes", c)
	}
}
