package observability

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// /readyz names what is not ready to anyone (a load balancer needs no
// more), and says why only to a caller on the machine itself: the reasons
// hold internal detail (stream names, sequences, errors of the store).
func TestReadyzDetailsOnlyForLoopback(t *testing.T) {
	t.Parallel()
	s, err := NewServer("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	s.AddCheck(Check{Name: "event_store", Check: func(context.Context) error {
		return errors.New("stream EVENTS: nats: connection to nats://jetflow:pw@10.1.2.3:4222 refused")
	}})
	for _, tc := range []struct {
		remote  string
		details bool
	}{{"127.0.0.1:5555", true}, {"[::1]:5555", true}, {"192.0.2.1:1234", false}, {"10.0.0.7:80", false}} {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		s.ready(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(string(body), "event_store") {
			t.Errorf("%s: %d %s", tc.remote, rec.Code, body)
		}
		if got := strings.Contains(string(body), "connection to"); got != tc.details {
			t.Errorf("%s: details shown %v, want %v: %s", tc.remote, got, tc.details, body)
		}
	}
}
