package jetflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// A domain other than users, written only against public packages: a
// ticket opened and closed, a projection of tickets with no queries, a
// worker on the event stream that mails on ticket.opened by publishing to
// a topic, and a worker on that topic.

type ticket struct {
	Title  string
	Closed bool
	exists bool
}

func (s *ticket) Apply(ev streams.Event) error {
	switch ev.Type {
	case "ticket.opened":
		var d struct{ Title string }
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return err
		}
		s.Title, s.exists = d.Title, true
	case "ticket.closed":
		s.Closed = true
	default:
		return fmt.Errorf("unknown event %s", ev.Type)
	}
	return nil
}

type openTicket struct {
	ID    string `json:"id,omitempty"`
	Title string `json:"title"`
}

func (c *openTicket) Validate() error {
	if c.Title == "" {
		return aggregates.Invalid("title is required")
	}
	return nil
}

type closeTicket struct {
	ID string `json:"id"`
}

func ticketCommands(svc *aggregates.Service, repo *aggregates.Repository[*ticket]) error {
	return errors.Join(
		aggregates.Register(svc, repo, aggregates.CommandSpec[*ticket, openTicket]{
			Name:        "open",
			AggregateID: func(c *openTicket) string { return c.ID },
			AssignID:    func(c *openTicket, id string) { c.ID = id },
			Decide: func(c openTicket, t *aggregates.Instance[*ticket]) ([]aggregates.Change, error) {
				if t.State.exists {
					return nil, aggregates.Refused("ticket %s exists", c.ID)
				}
				return []aggregates.Change{{Type: "ticket.opened", Data: map[string]string{"title": c.Title}}}, nil
			},
		}),
		aggregates.Register(svc, repo, aggregates.CommandSpec[*ticket, closeTicket]{
			Name:        "close",
			AggregateID: func(c *closeTicket) string { return c.ID },
			Decide: func(c closeTicket, t *aggregates.Instance[*ticket]) ([]aggregates.Change, error) {
				switch {
				case !t.State.exists:
					return nil, aggregates.NotFound("ticket %s does not exist", c.ID)
				case t.State.Closed:
					return nil, aggregates.Refused("ticket %s is closed already", c.ID)
				}
				return []aggregates.Change{{Type: "ticket.closed", Data: struct{}{}}}, nil
			},
		}),
	)
}

type ticketRecord struct {
	Title  string `json:"title"`
	Status string `json:"status"`
}

func ticketProjection(cfg streams.Config) projections.Projection {
	return projections.Projection{
		Subjects: []string{cfg.SubjectPrefix + ".ticket.>"},
		Handler: projections.JSONHandler[ticketRecord]{
			KeyOf: func(ev streams.Event) (string, error) { return projections.Key(ev.AggregateID), nil },
			Evolve: func(_ context.Context, ev streams.Event, rec *ticketRecord) (*ticketRecord, error) {
				switch ev.Type {
				case "ticket.opened":
					var d ticketRecord
					if err := json.Unmarshal(ev.Data, &d); err != nil {
						return nil, err
					}
					return &ticketRecord{Title: d.Title, Status: "open"}, nil
				case "ticket.closed":
					rec.Status = "closed"
					return rec, nil
				}
				return nil, fmt.Errorf("unknown event %s", ev.Type)
			},
		},
	}
}

// ticketApp registers the ticket domain; mailed receives each title the
// mail topic's worker handles.
func ticketApp(mailed chan<- string) *jetflow.App {
	app := jetflow.New()
	jetflow.Aggregate(app, "ticket", func() *ticket { return &ticket{} }, ticketCommands)
	app.Projection("tickets", ticketProjection)
	app.Topic(consumers.TopicConfig{Name: "mail", MemoryStorage: true})
	app.Worker("notify", func(rt jetflow.Runtime) consumers.Subscription {
		pub := consumers.NewPublisher(rt.JetStream)
		return consumers.Subscription{
			Stream:   rt.Streams.EventStream,
			Subjects: []string{rt.Streams.SubjectPrefix + ".ticket.>"},
			Handler: func(ctx context.Context, m *consumers.Message) error {
				ev, err := m.Event()
				if err != nil || ev.Type != "ticket.opened" {
					return err
				}
				_, err = pub.Publish(ctx, "mail", consumers.Outgoing{
					Key: "ticket.opened", Data: ev.Data, MsgID: ev.ID, CausationID: ev.ID, CorrelationID: ev.Metadata.CorrelationID,
				})
				return err
			},
		}
	})
	app.Worker("mailer", func(jetflow.Runtime) consumers.Subscription {
		return consumers.Subscription{Topic: "mail", Handler: func(_ context.Context, m *consumers.Message) error {
			var d ticketRecord
			if err := json.Unmarshal(m.Data(), &d); err != nil {
				return err
			}
			mailed <- d.Title
			return nil
		}}
	})
	return app
}

func TestAppServesItsOwnDomain(t *testing.T) {
	t.Parallel()
	mailed := make(chan string, 10)
	app := jetflowtest.RunApp(t, ticketApp(mailed))

	opened := app.MustSend("ticket.open", `{"title":"printer on fire"}`)
	if opened.AggregateID == "" || opened.Version != 1 {
		t.Fatalf("open: %+v", opened)
	}
	app.MustSend("ticket.close", map[string]string{"id": opened.AggregateID})
	if _, err := app.Send("ticket.close", map[string]string{"id": opened.AggregateID}); !errors.Is(err, wire.ErrConflict) {
		t.Fatalf("second close: %v, want a conflict", err)
	}
	if _, err := app.Send("ticket.open", `{"title":""}`); !errors.Is(err, wire.ErrInvalid) || !strings.Contains(err.Error(), "title is required") {
		t.Fatalf("open without a title: %v, want 400 naming the title", err)
	}
	if _, err := app.Send("ticket.close", `{"id":"nope"}`); !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("close of no ticket: %v, want 404", err)
	}

	rep := app.WaitCaughtUp("tickets")
	kv, err := app.JetStream().KeyValue(context.Background(), rep.Active.Bucket)
	if err != nil {
		t.Fatalf("bucket %s: %v", rep.Active.Bucket, err)
	}
	e, err := kv.Get(context.Background(), projections.Key(opened.AggregateID))
	if err != nil {
		t.Fatalf("record of %s: %v", opened.AggregateID, err)
	}
	if got := string(e.Value()); got != `{"title":"printer on fire","status":"closed"}` {
		t.Errorf("record = %s", got)
	}

	select {
	case title := <-mailed:
		if title != "printer on fire" {
			t.Errorf("mailed %q", title)
		}
	case <-time.After(jetflowtest.DefaultWait):
		t.Fatal("the mail topic's worker got nothing")
	}
	select {
	case title := <-mailed:
		t.Errorf("mailed twice: %q", title)
	case <-time.After(200 * time.Millisecond):
	}
}

// The platform's own subcommands act on the registered domain, and a
// program can add its own beside them.
func TestAppCommandLineKnowsTheDomain(t *testing.T) {
	t.Parallel()
	mailed := make(chan string, 10)
	app := ticketApp(mailed)
	running := jetflowtest.RunApp(t, ticketApp(mailed))
	running.MustSend("ticket.open", `{"id":"t1","title":"a"}`)
	running.WaitCaughtUp("tickets")

	root := app.Command()
	root.AddCommand(&cobra.Command{Use: "hello", RunE: func(cmd *cobra.Command, _ []string) error {
		fmt.Fprintln(cmd.OutOrStdout(), "hello from the shop")
		return nil
	}})
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		return out.String() + errOut.String(), err
	}
	if out, err := run("hello"); err != nil || out != "hello from the shop\n" {
		t.Fatalf("hello: %q %v", out, err)
	}
	out, err := run("projections", "status", "tickets", "--json", "--nats-url", running.URL())
	if err != nil || !strings.Contains(out, `"projection": "tickets"`) && !strings.Contains(out, `"projection":"tickets"`) {
		t.Fatalf("projections status tickets: %v\n%s", err, out)
	}
	if out, err := run("projections", "status", "users", "--nats-url", running.URL()); err == nil || !strings.Contains(out+err.Error(), "tickets") {
		t.Fatalf("projections status users: want an error naming the known projection tickets, got %v\n%s", err, out)
	}
}

func TestAppRefusesInvalidRegistrations(t *testing.T) {
	t.Parallel()
	app := jetflow.New()
	jetflow.Aggregate[*ticket](app, "ticket", nil, ticketCommands)
	jetflow.Aggregate(app, "ticket", func() *ticket { return &ticket{} }, ticketCommands)
	jetflow.Aggregate(app, "ticket", func() *ticket { return &ticket{} }, ticketCommands)
	app.Projection("tickets", nil)
	app.Worker("", func(jetflow.Runtime) consumers.Subscription { return consumers.Subscription{} })

	err := app.Run(context.Background(), jetflow.WithConfigFile(""))
	if !errors.Is(err, jetflow.ErrInvalidRegistration) {
		t.Fatalf("Run = %v, want ErrInvalidRegistration", err)
	}
	for _, want := range []string{`aggregate "ticket" needs a state constructor`, `read model "tickets" has no projection`, "ticket", "worker"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	root := app.Command()
	root.SetArgs([]string{"version"})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	if err := root.ExecuteContext(context.Background()); !errors.Is(err, jetflow.ErrInvalidRegistration) {
		t.Fatalf("version = %v, want ErrInvalidRegistration", err)
	}
}
