package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/streams"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHTTP polls url until want reports true or the deadline passes.
func waitHTTP(t *testing.T, url string, want func(code int, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := httpGet(url)
		last = fmt.Sprintf("%d %s %v", code, body, err)
		if err == nil && want(code, body) {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became as expected; last: %s", url, last)
	return ""
}

// jetflow serve end to end: metrics move with commands and queries, and
// /readyz fails while a projection is failed.
func TestServeMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Server.Listen = freeAddr(t)
	cfg.Server.StoreDir = t.TempDir()
	cfg.Metrics.Listen = freeAddr(t)
	cfg.Log.Level = "error"
	users := config.DefaultProjection("users")
	users.MaxRetries, users.Backoff = 1, []time.Duration{10 * time.Millisecond}
	cfg.Projections = map[string]config.ProjectionConfig{"users": users}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "http://" + cfg.Metrics.Listen
	waitHTTP(t, base+"/readyz", func(code int, _ string) bool { return code == 200 })

	nc, err := nats.Connect("nats://" + cfg.Server.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	request := func(subject, body string) *nats.Msg {
		msg, err := nc.Request(subject, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		return msg
	}
	var created struct {
		AggregateID string `json:"aggregate_id"`
		Sequence    uint64 `json:"sequence"`
	}
	if err := json.Unmarshal(request("cmd.user.create", `{"username":"metric","email":"m@example.com"}`).Data, &created); err != nil {
		t.Fatal(err)
	}
	request("cmd.user.update", fmt.Sprintf(`{"id":%q,"email":"m2@example.com"}`, created.AggregateID))
	request("cmd.user.create", `{"username":"x","email":"m@example.com"}`) // 400
	request("query.users.get", fmt.Sprintf(`{"id":%q,"min_sequence":%d}`, created.AggregateID, created.Sequence))

	body := waitHTTP(t, base+"/metrics", func(_ int, body string) bool {
		return strings.Contains(body, `jetflow_projection_events_applied_total{projection="users"} 2`)
	})
	for _, want := range []string{
		`jetflow_commands_total{aggregate_type="user",command="create",result="ok"} 1`,
		`jetflow_commands_total{aggregate_type="user",command="create",result="validation"} 1`,
		`jetflow_commands_total{aggregate_type="user",command="update",result="ok"} 1`,
		`jetflow_events_appended_total{aggregate_type="user"} 2`,
		`jetflow_query_duration_seconds_count{query="get",read_model="users",result="ok"} 1`,
		`jetflow_projection_state{projection="users",state="running"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// An event the users projection cannot apply makes it fail, and /readyz with it.
	js, _ := jetstream.New(nc)
	store, err := streams.NewStore(js, streams.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "user", "poison", streams.Position{}, streams.Event{Type: "user.created", Data: []byte(`{"id":5}`)}); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, base+"/readyz", func(code int, body string) bool {
		return code == 503 && strings.Contains(body, "projection users failed at event")
	})
	if _, body, _ := httpGet(base + "/metrics"); !strings.Contains(body, `jetflow_projection_state{projection="users",state="failed"} 1`) {
		t.Error("/metrics does not show the projection failed")
	}
}
