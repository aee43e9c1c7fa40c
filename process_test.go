package jetflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

type noted struct{}

func notes(name string) processes.Definition[noted] {
	return processes.Definition[noted]{Name: name, On: []processes.On[noted]{{Event: "note.taken", Start: true,
		Handle: func(context.Context, processes.Instance[noted], streams.Event) (processes.Step[noted], error) {
			return processes.Step[noted]{End: true}, nil
		}}}}
}

func TestProcessRegistrationsAreChecked(t *testing.T) {
	t.Parallel()
	app := jetflow.New()
	jetflow.Process(app, processes.Definition[noted]{Name: "Bad.Name"})
	jetflow.Process(app, notes("notes"))
	jetflow.Process(app, notes("notes"))
	err := app.Run(context.Background(), jetflow.WithConfigFile(""))
	if !errors.Is(err, jetflow.ErrInvalidRegistration) {
		t.Fatalf("Run = %v, want ErrInvalidRegistration", err)
	}
	for _, want := range []string{`process "Bad.Name"`, "handles no event", `process "notes" registered twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// A [processes.<name>] section configures the process serve runs: here
// a bucket that collides with another's is refused before anything starts.
func TestProcessConfigurationIsChecked(t *testing.T) {
	t.Parallel()
	app := jetflow.New()
	jetflow.Process(app, notes("notes"))
	err := app.Run(context.Background(), jetflow.WithConfigFile(""),
		jetflow.WithSetting("processes.notes.bucket", "jetflow_snapshots"), jetflow.WithSetting("processes.notes.concurrency", "0"))
	for _, want := range []string{"processes.notes.bucket", "is also snapshots.bucket", "processes.notes.concurrency"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run = %v: does not say %q", err, want)
		}
	}
}
