package jetflow_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/lifecycle"
)

// runUntilEnd runs app until it returns, with a free metrics address, and
// hands the running platform to during once it is ready.
func runUntilEnd(t *testing.T, app *jetflow.App, during func(s jetflow.Started)) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready := make(chan jetflow.Started, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx,
			jetflow.WithConfigFile(""),
			jetflow.WithSetting("server.listen", "127.0.0.1:-1"),
			jetflow.WithSetting("server.store_dir", t.TempDir()),
			jetflow.WithSetting("metrics.listen", natstest.FreeAddr(t)),
			jetflow.WithSetting("log.level", "error"),
			jetflow.OnReady(func(s jetflow.Started) { ready <- s }))
	}()
	select {
	case s := <-ready:
		if during != nil {
			during(s)
		}
	case err := <-done:
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatal("Run did not return within 60s")
		return nil
	}
}

// A part that ends on its own while the platform runs stops every other
// part, and Run says which part it was and why.
func TestRunEndsWhenAComponentFails(t *testing.T) {
	t.Parallel()
	broken := errors.New("upstream feed closed")
	fail := make(chan struct{})
	app := jetflow.New()
	users.Register(app)
	app.Component("feed", func(jetflow.Runtime) (lifecycle.Component, error) {
		return lifecycle.Func(func(ctx context.Context) error {
			select {
			case <-fail:
				return broken
			case <-ctx.Done():
				return nil
			}
		}), nil
	})
	var metrics string
	err := runUntilEnd(t, app, func(s jetflow.Started) {
		metrics = s.MetricsAddr
		close(fail)
	})
	var me *lifecycle.MemberError
	if !errors.As(err, &me) || me.Member != "feed" || me.Starting || !errors.Is(err, broken) {
		t.Fatalf("Run = %v, want the feed component's failure", err)
	}
	// Everything else stopped with it: the health endpoint is gone.
	if conn, err := net.DialTimeout("tcp", metrics, time.Second); err == nil {
		conn.Close()
		t.Errorf("metrics address %s still answers after Run returned", metrics)
	}
}

// A component that cannot start fails the start: nothing keeps running.
func TestRunFailsWhenAComponentCannotStart(t *testing.T) {
	t.Parallel()
	app := jetflow.New()
	users.Register(app)
	refused := errors.New("port 8080 in use")
	app.Component("api", func(jetflow.Runtime) (lifecycle.Component, error) {
		return startFails{refused}, nil
	})
	err := runUntilEnd(t, app, func(jetflow.Started) { t.Error("ready although a component did not start") })
	var me *lifecycle.MemberError
	if !errors.As(err, &me) || me.Member != "api" || !me.Starting || !errors.Is(err, refused) {
		t.Fatalf("Run = %v, want the api component's start failure", err)
	}
}

type startFails struct{ err error }

func (s startFails) Start(context.Context) error { return s.err }
func (startFails) Stop(context.Context) error    { return nil }
func (startFails) Done() <-chan struct{}         { return nil }
func (startFails) Err() error                    { return nil }

// A worker whose consumer is deleted under it (an operator's `nats
// consumer rm`) no longer receives anything: before, it logged and went on
// deaf; now the platform stops, so whoever runs it restarts it and the
// consumer is made again.
func TestRunEndsWhenAWorkersConsumerIsDeleted(t *testing.T) {
	t.Parallel()
	app := jetflow.New()
	users.Register(app)
	app.Topic(consumers.TopicConfig{Name: "mail", MemoryStorage: true})
	app.Worker("mailer", func(jetflow.Runtime) consumers.Subscription {
		return consumers.Subscription{Topic: "mail", Handler: func(context.Context, *consumers.Message) error { return nil }}
	})
	err := runUntilEnd(t, app, func(s jetflow.Started) {
		nc, err := nats.Connect(s.NATSURL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stream, err := js.Stream(ctx, consumers.TopicStream("mail"))
		if err != nil {
			t.Fatal(err)
		}
		names := stream.ConsumerNames(ctx)
		deleted := 0
		for name := range names.Name() {
			if err := js.DeleteConsumer(ctx, consumers.TopicStream("mail"), name); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
		if deleted == 0 {
			t.Fatal("the mailer has no consumer to delete")
		}
	})
	var me *lifecycle.MemberError
	if !errors.As(err, &me) || me.Member != "workers" || !errors.Is(err, jetstream.ErrConsumerDeleted) && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("Run = %v, want the workers' failure: consumer deleted", err)
	}
}
