package jetflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// A small domain: a task is added once (the aggregate "task" and its
// command task.add); the read model "tasks" lists the tasks' titles (the
// query tasks.list); the worker "reminders" hears of every task added.

// EventTaskAdded is the one event of a task.
const EventTaskAdded = "task.added"

// Task is the state task.add decides on.
type Task struct {
	Title string `json:"title"`
}

// Apply changes the task by one of its events.
func (t *Task) Apply(ev streams.Event) error {
	if ev.Type != EventTaskAdded {
		return fmt.Errorf("task: unknown event type %q", ev.Type)
	}
	return json.Unmarshal(ev.Data, t)
}

// AddTask is the command task.add.
type AddTask struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Validate refuses a task without a title (400).
func (c *AddTask) Validate() error {
	if c.Title == "" {
		return aggregates.Invalid("title is required")
	}
	return nil
}

// TaskCommands adds task.add to the command service.
func TaskCommands(svc *aggregates.Service, repo *aggregates.Repository[*Task]) error {
	return aggregates.Register(svc, repo, aggregates.CommandSpec[*Task, AddTask]{
		Name:        "add",
		AggregateID: func(c *AddTask) string { return c.ID },
		Decide: func(c AddTask, t *aggregates.Instance[*Task]) ([]aggregates.Change, error) {
			if t.Exists() {
				return nil, aggregates.Refused("task %s exists already", t.ID)
			}
			return []aggregates.Change{{Type: EventTaskAdded, Data: Task{Title: c.Title}}}, nil
		},
	})
}

// TaskProjection keeps one record per task: its title.
func TaskProjection(cfg streams.Config) projections.Projection {
	return projections.Projection{
		Subjects: []string{cfg.SubjectPrefix + ".task.>"},
		Handler: projections.JSONHandler[Task]{
			KeyOf: func(ev streams.Event) (string, error) { return projections.Key(ev.AggregateID), nil },
			Evolve: func(_ context.Context, ev streams.Event, _ *Task) (*Task, error) {
				var t Task
				err := json.Unmarshal(ev.Data, &t)
				return &t, err
			},
		},
	}
}

// Titles is the read model in memory: each task's title by record key.
type Titles map[string]string

// NewTitles is an empty read model.
func NewTitles() Titles { return Titles{} }

// Put stores a record as the projection wrote it.
func (m Titles) Put(key string, value []byte) error {
	var t Task
	if err := json.Unmarshal(value, &t); err != nil {
		return err
	}
	m[key] = t.Title
	return nil
}

// Delete removes a record.
func (m Titles) Delete(key string) { delete(m, key) }

// ListTasks is the request of tasks.list; MinSequence (a command reply's
// Sequence) makes the reply wait until the read model has applied it.
type ListTasks struct {
	MinSequence uint64 `json:"min_sequence,omitempty"`
}

// TaskQueries adds tasks.list to the query service: every title, sorted.
func TaskQueries(svc *projections.QueryService, view *projections.View[Titles]) error {
	return projections.RegisterQuery(svc, "tasks", "list", func(ctx context.Context, req ListTasks) (any, uint64, error) {
		titles := []string{}
		applied, err := view.Read(ctx, req.MinSequence, func(m Titles) error {
			for _, title := range m {
				titles = append(titles, title)
			}
			return nil
		})
		slices.Sort(titles)
		return titles, applied, err
	})
}

// Registering a domain on an App and running it inside a program with
// Run: here on an embedded NATS server of its own on a random port, with
// its store in a temporary dir; a program's main calls app.Main() instead
// to get the jetflow command line over the same domain.
func ExampleNew() {
	app := jetflow.New()
	jetflow.Aggregate(app, "task", func() *Task { return &Task{} }, TaskCommands)
	jetflow.ReadModel(app, "tasks", TaskProjection, NewTitles, TaskQueries)
	reminded := make(chan string, 1)
	app.Worker("reminders", func(rt jetflow.Runtime) consumers.Subscription {
		return consumers.Subscription{
			Stream:   rt.Streams.EventStream,
			Subjects: []string{rt.Streams.SubjectPrefix + ".task.>"},
			Handler: func(ctx context.Context, m *consumers.Message) error {
				ev, err := m.Event()
				if err != nil {
					return err
				}
				var t Task
				if err := json.Unmarshal(ev.Data, &t); err != nil {
					return consumers.Permanent(err)
				}
				select {
				case reminded <- t.Title:
				case <-ctx.Done():
				}
				return nil
			},
		}
	})

	dir, err := os.MkdirTemp("", "tasks-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ready := make(chan jetflow.Started, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx,
			jetflow.WithConfigFile(""), // no jetflow.tsk: the settings below and the defaults
			jetflow.WithSetting("server.listen", "127.0.0.1:-1"),
			jetflow.WithSetting("server.store_dir", dir),
			jetflow.WithSetting("metrics.listen", ""),
			jetflow.WithSetting("log.level", "error"),
			jetflow.OnReady(func(s jetflow.Started) { ready <- s }),
		)
	}()
	var started jetflow.Started
	select {
	case started = <-ready:
	case err := <-done: // it did not start: a registration or configuration error
		fmt.Println(err)
		return
	}
	defer func() { // stop the app, and wait until it has stopped
		stop()
		if err := <-done; err != nil {
			fmt.Println(err)
		}
	}()

	// A client of the app, in this program or any other.
	nc, err := nats.Connect(started.NATSURL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	c := client.New(nc)
	reply, err := c.Send(ctx, "task.add", AddTask{ID: "t-1", Title: "water the plants"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s at version %d, sequence %d\n", reply.AggregateID, reply.Version, reply.Sequence)
	_, err = c.Send(ctx, "task.add", AddTask{ID: "t-1", Title: "again"})
	fmt.Println(errors.Is(err, wire.ErrConflict), err)
	select {
	case title := <-reminded:
		fmt.Println("reminded of:", title)
	case <-time.After(10 * time.Second):
		fmt.Println("no reminder")
	}

	var titles []string
	if _, err := c.Query(ctx, "tasks.list", ListTasks{MinSequence: reply.Sequence}, &titles); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("tasks:", titles)
	// Output:
	// t-1 at version 1, sequence 1
	// true 409 conflict: task t-1 exists already
	// reminded of: water the plants
	// tasks: [water the plants]
}
