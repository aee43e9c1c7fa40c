package consumers

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fakeMsg is a jetstream.Msg for tests that need no server.
type fakeMsg struct {
	subject string
	data    []byte
	header  nats.Header
	meta    *jetstream.MsgMetadata

	mu   sync.Mutex
	acks []string
}

var _ jetstream.Msg = (*fakeMsg)(nil)

func (f *fakeMsg) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acks = append(f.acks, s)
	return nil
}

func (f *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	if f.meta == nil {
		return &jetstream.MsgMetadata{NumDelivered: 1}, nil
	}
	return f.meta, nil
}
func (f *fakeMsg) Data() []byte                       { return f.data }
func (f *fakeMsg) Headers() nats.Header               { return f.header }
func (f *fakeMsg) Subject() string                    { return f.subject }
func (f *fakeMsg) Reply() string                      { return "" }
func (f *fakeMsg) Ack() error                         { return f.record("ack") }
func (f *fakeMsg) DoubleAck(context.Context) error    { return f.record("ack") }
func (f *fakeMsg) Nak() error                         { return f.record("nak") }
func (f *fakeMsg) NakWithDelay(d time.Duration) error { return f.record("nak " + d.String()) }
func (f *fakeMsg) InProgress() error                  { return f.record("wpi") }
func (f *fakeMsg) Term() error                        { return f.record("term") }
func (f *fakeMsg) TermWithReason(reason string) error { return f.record("term " + reason) }
func testMessage(subject string, data string, h nats.Header) *Message {
	return newMessage(&fakeMsg{subject: subject, data: []byte(data), header: h}, "sub", "orders")
}
