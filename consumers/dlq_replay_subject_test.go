package consumers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A replay publishes with the operator's rights to the subject the
// original had. A stream named like a topic but holding other subjects
// (made by hand, or a forged advisory pointing at it) must not turn a
// replay into a write elsewhere, into the event store say: the subject
// has to be under the topic's topic.<name>.>.
func TestReplayStaysUnderTheTopic(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := testCtx(t)
	if _, err := EnsureDLQ(ctx, e.js, DLQConfig{}); err != nil {
		t.Fatal(err)
	}
	st, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: "TOPIC_EVIL", Subjects: []string{"events.user.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "evil", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(ctx, "events.user.u1", []byte(`{"forged":true}`)); err != nil {
		t.Fatal(err)
	}
	adv, _ := json.Marshal(Advisory{Type: AdvisoryTerminatedType, ID: "x", Time: time.Now(), Stream: "TOPIC_EVIL",
		Consumer: "evil", StreamSeq: 1, Deliveries: 1, Reason: "boom"})
	ack, err := e.js.Publish(ctx, AdvisoryTerminatedPrefix+".TOPIC_EVIL.evil", adv)
	if err != nil {
		t.Fatal(err)
	}
	dlq := NewDLQ(e.js, DLQConfig{})
	before := streamMsgs(t, e.js, "TOPIC_EVIL")
	_, err = dlq.Replay(ctx, ack.Sequence, false)
	if !errors.Is(err, ErrReplayUnsupported) || !strings.Contains(err.Error(), "topic.evil.>") {
		t.Fatalf("replay of events.user.u1 for topic evil: %v", err)
	}
	if got := streamMsgs(t, e.js, "TOPIC_EVIL"); got != before {
		t.Fatalf("the replay wrote: %d messages, was %d", got, before)
	}
	all, err := dlq.ReplayAll(ctx, ListOptions{}, false)
	if err != nil || len(all) != 1 || all[0].Skipped == "" {
		t.Fatalf("replay all: %+v %v", all, err)
	}
}
