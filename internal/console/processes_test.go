package console

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

// reminder is the test's process manager: each note written starts (or
// moves) an instance whose state is the note, with a deadline an hour on.
func reminder() processes.Definition[note] {
	return processes.Definition[note]{
		Name: "reminder", AggregateTypes: []string{"note"}, FromStart: true,
		On: []processes.On[note]{{Event: "note.written", Start: true,
			Handle: func(_ context.Context, _ processes.Instance[note], ev streams.Event) (processes.Step[note], error) {
				var w writeNote
				if err := json.Unmarshal(ev.Data, &w); err != nil {
					return processes.Step[note]{}, err
				}
				return processes.Step[note]{State: note{Text: w.Text}, Deadlines: []processes.Deadline{{Name: "remind", After: time.Hour}}}, nil
			}}},
		Deadlines: map[string]processes.DeadlineHandler[note]{
			"remind": func(context.Context, processes.Instance[note], processes.Fired) (processes.Step[note], error) {
				return processes.Step[note]{End: true}, nil
			},
		},
	}
}

// The processes page lists the registered manager with its counts and
// instances, and an instance's page shows its state (escaped), its
// pending deadline and the event it handled.
func TestProcessPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Loopback: true})
	m, err := processes.New(f.nc, reminder(), processes.Config{})
	if err != nil {
		t.Fatal(err)
	}
	startStop(t, m)
	f.send("n1", "<script>alert(1)</script>", false)
	f.send("user:42", "second", false)

	page := basePath + "processes?" + url.Values{"name": {"reminder"}, "id": {"n1"}}.Encode()
	var r response
	for deadline := time.Now().Add(20 * time.Second); ; {
		if r = f.get(page); r.status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{`id="instance-status" class="state state-running">running`, "remind", "<td>in ", "note.written",
		`\u003cscript\u003ealert(1)\u003c/script\u003e`, "All instances of reminder"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("instance page (%d) lacks %q:\n%.3000s", r.status, want, r.body)
		}
	}
	if strings.Contains(r.body, "<script>alert") {
		t.Error("the instance's state is not escaped")
	}

	// Both instances, the one with a colon linked with its id escaped.
	for deadline := time.Now().Add(20 * time.Second); ; {
		r = f.get(basePath + "processes?name=reminder")
		if strings.Contains(r.body, "user%3a42") || strings.Contains(r.body, "user%3A42") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{`data-process="reminder"`, `<td class="running">2</td>`, "id=n1", ">user:42</a>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("list page lacks %q:\n%.3000s", want, r.body)
		}
	}
	if r := f.get(basePath + "processes?name=reminder&id=user%3A42"); r.status != 200 || !strings.Contains(r.body, "second") {
		t.Errorf("instance user:42: %d\n%.2000s", r.status, r.body)
	}
}
