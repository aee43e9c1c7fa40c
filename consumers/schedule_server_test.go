package consumers

// The facts about nats-server's message scheduling (ADR-51, server/scheduler.go,
// stream.go and jetstream_batching.go of v2.15.2) that scheduled topic
// messages and process deadlines rely on, each checked on a real embedded
// server with raw headers, so that a server upgrade that changes one fails
// here and not in production.

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
)

// Raw scheduling headers, as the server spells them.
const (
	hSchedule       = "Nats-Schedule"
	hScheduleTarget = "Nats-Schedule-Target"
	hScheduleTTL    = "Nats-Schedule-TTL"
	hScheduler      = "Nats-Scheduler"
	hScheduleNext   = "Nats-Schedule-Next"
	hExpectedSubj   = "Nats-Expected-Last-Subject-Sequence"
	hExpectedSubjOf = "Nats-Expected-Last-Subject-Sequence-Subject"
)

func schedStream(t *testing.T, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "S"
	}
	if cfg.Subjects == nil {
		cfg.Subjects = []string{"s.>"}
	}
	st, err := js.CreateStream(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return st
}

// atHeader is the @at pattern of t: RFC 3339 in whole seconds, UTC.
func atHeader(t time.Time) string { return "@at " + t.UTC().Format(time.RFC3339) }

func scheduleMsg(subject, target string, at time.Time, extra nats.Header) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = []byte("later")
	m.Header.Set(hSchedule, atHeader(at))
	m.Header.Set(hScheduleTarget, target)
	for k, v := range extra {
		m.Header[k] = v
	}
	return m
}

// waitMsg waits for the last message on subject, or fails after d.
func waitMsg(t *testing.T, st jetstream.Stream, subject string, d time.Duration) *jetstream.RawStreamMsg {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m, err := st.GetLastMsgForSubject(testCtx(t), subject)
		if err == nil {
			return m
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("get %s: %v", subject, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing on %s after %s", subject, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func noMsg(t *testing.T, st jetstream.Stream, subject string) {
	t.Helper()
	if m, err := st.GetLastMsgForSubject(testCtx(t), subject); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("%s holds %+v (%v), want nothing", subject, m, err)
	}
}

func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// A schedule message stays on its own subject until its time; then the
// server stores a copy on the target subject, with the schedule's headers
// but Nats-Schedule*, Nats-Msg-Id and Nats-TTL, adds Nats-Scheduler (the
// schedule's subject) and Nats-Schedule-Next: purge, and purges the
// schedule's subject. Never before the @at second; the timer fires at most
// every 250 ms.
func TestServerScheduleFiresAtItsTimeOnTheTarget(t *testing.T) {
	t.Parallel()
	_, js := natstest.RunServer(t).JetStream(t)
	st := schedStream(t, js, jetstream.StreamConfig{AllowMsgSchedules: true, AllowMsgTTL: true})
	cfg := st.CachedInfo().Config
	if !cfg.AllowRollup || cfg.DenyPurge {
		t.Errorf("allow_msg_schedules stream: allow_rollup %v, deny_purge %v: the server sets roll-ups on and purge allowed", cfg.AllowRollup, cfg.DenyPurge)
	}
	at := time.Now().Add(2 * time.Second).Truncate(time.Second)
	ack, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.a", "s.target.a", at, nats.Header{
		"Nats-Msg-Id": {"m-1"}, "Jetflow-Thing": {"kept"}, hScheduleTTL: {"90s"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	stored := waitMsg(t, st, "s.sched.a", time.Second)
	if stored.Sequence != ack.Sequence || stored.Header.Get("Nats-Rollup") != "sub" {
		t.Errorf("schedule stored at %d with Nats-Rollup %q, want %d and sub (the server adds it)", stored.Sequence, stored.Header.Get("Nats-Rollup"), ack.Sequence)
	}
	fired := waitMsg(t, st, "s.target.a", 10*time.Second)
	if fired.Time.Before(at) {
		t.Errorf("fired at %s, before its time %s", fired.Time, at)
	}
	if late := fired.Time.Sub(at); late > 1500*time.Millisecond {
		t.Errorf("fired %s after its time", late)
	}
	for k, want := range map[string]string{
		hScheduler: "s.sched.a", hScheduleNext: "purge", "Jetflow-Thing": "kept", "Nats-TTL": "90s",
		"Nats-Msg-Id": "", hSchedule: "", hScheduleTarget: "", hScheduleTTL: "",
	} {
		if got := fired.Header.Get(k); got != want {
			t.Errorf("fired message: %s = %q, want %q", k, got, want)
		}
	}
	if string(fired.Data) != "later" {
		t.Errorf("fired body %q", fired.Data)
	}
	noMsg(t, st, "s.sched.a")
}

// What the server refuses: a schedule on a stream without
// allow_msg_schedules (10188), a target outside the stream's subjects or
// equal to the schedule's subject (10190). It allows turning schedules on
// for an existing stream, and refuses turning them off.
func TestServerScheduleRefusals(t *testing.T) {
	t.Parallel()
	_, js := natstest.RunServer(t).JetStream(t)
	plain := schedStream(t, js, jetstream.StreamConfig{})
	at := time.Now().Add(time.Hour)
	_, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.a", "s.target.a", at, nil))
	if apiCode(err) != 10188 {
		t.Errorf("schedule on a stream without allow_msg_schedules: %v, want error 10188", err)
	}
	cfg := plain.CachedInfo().Config
	cfg.AllowMsgSchedules = true
	if _, err := js.UpdateStream(testCtx(t), cfg); err != nil {
		t.Fatalf("turn schedules on: %v", err)
	}
	if _, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.a", "other.a", at, nil)); apiCode(err) != 10190 {
		t.Errorf("target outside the stream: %v, want 10190", err)
	}
	if _, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.a", "s.sched.a", at, nil)); apiCode(err) != 10190 {
		t.Errorf("target = schedule subject: %v, want 10190", err)
	}
	if _, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.a", "s.target.a", at, nil)); err != nil {
		t.Errorf("after the update: %v", err)
	}
	cfg.AllowMsgSchedules = false
	if _, err := js.UpdateStream(testCtx(t), cfg); err == nil {
		t.Error("turning schedules off was accepted")
	}
}

// A cancel is one message on a subject of its own: Nats-Schedule-Next:
// purge with Nats-Scheduler naming the schedule's subject purges that
// subject, and Nats-Expected-Last-Subject-Sequence(-Subject) makes it
// conditional on the schedule still being there. It succeeds only before
// the schedule fired (10071 after: the fire purged the subject), and the
// server refuses a purge aimed at a subject whose last message is not a
// schedule (10212).
func TestServerCancelIsAConditionalPurge(t *testing.T) {
	t.Parallel()
	_, js := natstest.RunServer(t).JetStream(t)
	st := schedStream(t, js, jetstream.StreamConfig{AllowMsgSchedules: true, AllowMsgTTL: true})
	cancel := func(schedSubj string, seq uint64) error {
		m := nats.NewMsg("s.cancel." + schedSubj[len("s.sched."):])
		m.Header.Set(hScheduleNext, "purge")
		m.Header.Set(hScheduler, schedSubj)
		m.Header.Set(hExpectedSubj, strconv.FormatUint(seq, 10))
		m.Header.Set(hExpectedSubjOf, schedSubj)
		_, err := js.PublishMsg(testCtx(t), m)
		return err
	}
	soon := time.Now().Add(2 * time.Second)
	a, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.a", "s.target.a", soon, nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.b", "s.target.b", time.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cancel("s.sched.a", a.Sequence+1); apiCode(err) != 10071 {
		t.Errorf("cancel expecting another sequence: %v, want 10071", err)
	}
	if err := cancel("s.sched.a", a.Sequence); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	noMsg(t, st, "s.sched.a")
	waitMsg(t, st, "s.cancel.a", time.Second)
	// b (due at once) fires; a never does.
	waitMsg(t, st, "s.target.b", 10*time.Second)
	if err := cancel("s.sched.b", b.Sequence); apiCode(err) != 10071 {
		t.Errorf("cancel after the fire: %v, want 10071", err)
	}
	if _, err := js.Publish(testCtx(t), "s.plain", []byte("x")); err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg("s.cancel.plain")
	m.Header.Set(hScheduleNext, "purge")
	m.Header.Set(hScheduler, "s.plain")
	if _, err := js.PublishMsg(testCtx(t), m); apiCode(err) != 10212 {
		t.Errorf("purge of a subject that holds no schedule: %v, want 10212", err)
	}
	time.Sleep(time.Until(soon.Add(1500 * time.Millisecond)))
	noMsg(t, st, "s.target.a")
}

// A schedule message is an ordinary message to the stream's limits: with
// max_age shorter than its wait it is removed and never fires, unless it
// carries Nats-TTL: never (the stream needs allow_msg_ttl), which keeps it
// past max_age until it fires.
func TestServerScheduleAndMaxAge(t *testing.T) {
	t.Parallel()
	_, js := natstest.RunServer(t).JetStream(t)
	st := schedStream(t, js, jetstream.StreamConfig{AllowMsgSchedules: true, AllowMsgTTL: true, MaxAge: time.Second})
	at := time.Now().Add(3 * time.Second)
	if _, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.aged", "s.target.aged", at, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.kept", "s.target.kept", at, nats.Header{"Nats-TTL": {"never"}})); err != nil {
		t.Fatal(err)
	}
	fired := waitMsg(t, st, "s.target.kept", 10*time.Second)
	if fired.Header.Get("Nats-TTL") != "" {
		t.Errorf("the fired copy kept the schedule's Nats-TTL %q", fired.Header.Get("Nats-TTL"))
	}
	noMsg(t, st, "s.target.aged")
}

// Schedules are state of the stream: one due while the server was down
// fires after it restarts on the same store, and one in the past fires at
// once.
func TestServerScheduleSurvivesARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := natstest.RunServerWithConfig(t, natsserver.Config{StoreDir: dir})
	nc, js := srv.JetStream(t)
	schedStream(t, js, jetstream.StreamConfig{AllowMsgSchedules: true})
	at := time.Now().Add(2 * time.Second)
	if _, err := js.PublishMsg(testCtx(t), scheduleMsg("s.sched.r", "s.target.r", at, nil)); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	natsserver.Stop(srv.Server)
	time.Sleep(time.Until(at.Add(time.Second)))

	_, js2 := natstest.RunServerWithConfig(t, natsserver.Config{StoreDir: dir}).JetStream(t)
	st, err := js2.Stream(testCtx(t), "S")
	if err != nil {
		t.Fatal(err)
	}
	waitMsg(t, st, "s.target.r", 10*time.Second)
	if _, err := js2.PublishMsg(testCtx(t), scheduleMsg("s.sched.past", "s.target.past", time.Now().Add(-time.Hour), nil)); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, st, "s.target.past", 5*time.Second)
}
