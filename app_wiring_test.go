package jetflow_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/jetflowtest"
)

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// A logger the program brings still gets every command's correlation id
// and name on the lines logged while it runs (an outside user lost them:
// the context's attributes were read only by the CLI's own handler).
func TestALoggerOfTheProgramGetsCorrelationIDs(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app := jetflowtest.RunApp(t, ticketApp(make(chan string, 10)), jetflow.WithLogger(logger))
	app.MustSend("ticket.open", `{"title":"printer on fire"}`, client.CorrelationID("corr-42"))
	if _, err := app.Send("ticket.close", `{"id":"nope"}`, client.CorrelationID("corr-43")); err == nil {
		t.Fatal("closing no ticket succeeded")
	}
	found := map[string]bool{}
	for _, line := range logs.lines() {
		if id, _ := line["correlation_id"].(string); id != "" {
			if cmd, _ := line["command"].(string); strings.HasSuffix(cmd, ".ticket.open") || strings.HasSuffix(cmd, ".ticket.close") {
				found[id] = true
			}
		}
	}
	if !found["corr-42"] || !found["corr-43"] {
		t.Fatalf("no log line carries correlation_id and command for both commands (found %v); log:\n%v", found, logs.lines())
	}
}

// [projections.<name>] applies to a projection of the program's own, as it
// does to the users example's.
func TestProjectionSectionsApplyToTheDomainsProjections(t *testing.T) {
	t.Parallel()
	app := jetflowtest.RunApp(t, ticketApp(make(chan string, 10)),
		jetflow.WithSetting("projections.tickets.bucket", "rm_support_tickets"))
	app.MustSend("ticket.open", `{"title":"a"}`)
	if rep := app.WaitCaughtUp("tickets"); rep.Active.Bucket != "rm_support_tickets" {
		t.Fatalf("tickets projection writes to bucket %q, want rm_support_tickets from its section", rep.Active.Bucket)
	}
}
