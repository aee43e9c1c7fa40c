package deploy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// A client may only publish cmd.> and query.>, but it names the reply
// subject of its request, and the service answers with its own, much wider,
// publish rights. A reply subject that is not an inbox gets no answer, so a
// client cannot write into the event store (or a topic, a bucket) that way.
func TestClientCannotWriteThroughAReplySubject(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	url := s.ClientURL()
	node := startNode(t, url, 1)
	nc, _ := connectAs(t, url, clientUser, clientPassword)
	for _, req := range []struct{ subject, body string }{
		{"cmd.user.nope", `{}`}, // the catch-all's 404
		{"cmd.user.create", `{"username":"mallory","email":"m@example.com"}`},
		{"cmd.user.create", `{"username":`}, // a 400
	} {
		if err := nc.PublishRequest(req.subject, "events.user.mallory", []byte(req.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	st, err := node.JS.Stream(testContext(t), streams.DefaultEventStream)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		m, err := st.GetLastMsgForSubject(testContext(t), "events.user.mallory")
		if err == nil {
			t.Fatalf("client got a message stored in EVENTS on %s via the service's reply: header %v body %s",
				m.Subject, m.Header, m.Data)
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
