package consumers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

func TestWebhookStatusClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		ok, retry bool
	}{
		{200, true, false}, {201, true, false}, {204, true, false},
		{400, false, false}, {401, false, false}, {404, false, false}, {422, false, false},
		{408, false, true}, {429, false, true},
		{500, false, true}, {502, false, true}, {503, false, true},
		{304, false, false},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tt.status)
			_, _ = io.WriteString(w, "detail of "+http.StatusText(tt.status))
		}))
		h, err := Webhook(WebhookConfig{URL: srv.URL}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		err = h(context.Background(), testMessage("s", "{}", nil))
		srv.Close()
		switch {
		case tt.ok && err != nil:
			t.Errorf("%d: want success, got %v", tt.status, err)
		case !tt.ok && err == nil:
			t.Errorf("%d: want an error", tt.status)
		case !tt.ok && IsPermanent(err) == tt.retry:
			t.Errorf("%d: permanent=%v, want retry=%v (%v)", tt.status, IsPermanent(err), tt.retry, err)
		}
		var we *WebhookError
		// A 304 carries no body.
		if !tt.ok && (!errors.As(err, &we) || we.Status != tt.status || (tt.status != 304 && !strings.Contains(err.Error(), "detail of"))) {
			t.Errorf("%d: error %v", tt.status, err)
		}
	}
}

// A redirect that would turn the POST into a GET (301, 302, 303) is never
// followed: the payload would be lost and the message acked. 307 and 308
// keep the method and body: followed within the URL's origin when the
// policy is RedirectSameOrigin, and not at all by default.
func TestWebhookRedirects(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	mux := http.NewServeMux()
	for _, code := range []int{301, 302, 303, 307, 308} {
		mux.HandleFunc("/r"+strconv.Itoa(code), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/final", code)
		})
	}
	mux.HandleFunc("/final", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+string(b))
		mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		code   int
		policy RedirectPolicy
	}{{301, RedirectSameOrigin}, {302, RedirectSameOrigin}, {303, RedirectSameOrigin}, {307, RedirectSameOrigin},
		{308, RedirectSameOrigin}, {307, ""}, {308, RedirectNone}} {
		code := tc.code
		h, err := Webhook(WebhookConfig{URL: srv.URL + "/r" + strconv.Itoa(code), Redirects: tc.policy}, &http.Client{})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got = nil
		mu.Unlock()
		err = h(context.Background(), testMessage("s", `{"id":1}`, nil))
		mu.Lock()
		final := slices.Clone(got)
		mu.Unlock()
		if code >= 307 && tc.policy == RedirectSameOrigin {
			if err != nil || len(final) != 1 || final[0] != `POST {"id":1}` {
				t.Errorf("%d: %v, endpoint got %q; want the POST followed", code, err, final)
			}
			continue
		}
		var we *WebhookError
		if !IsPermanent(err) || !errors.As(err, &we) || we.Status != code || !strings.Contains(err.Error(), "redirects to /final") || len(final) != 0 {
			t.Errorf("%d: %v, endpoint got %q; want a permanent error naming the new location", code, err, final)
		}
	}
}

func TestWebhookTimeoutAndConnectionErrorsRetry(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	h, err := Webhook(WebhookConfig{URL: slow.URL, Timeout: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = h(context.Background(), testMessage("s", "{}", nil))
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	h, _ = Webhook(WebhookConfig{URL: url}, nil)
	if err := h(context.Background(), testMessage("s", "{}", nil)); err == nil || IsPermanent(err) || !errors.Is(err, ErrWebhook) {
		t.Fatalf("connection refused: %v", err)
	}
	for _, bad := range []WebhookConfig{{}, {URL: "ftp://x"}, {URL: "http://"}, {URL: "http://x", Timeout: -1}} {
		if _, err := Webhook(bad, nil); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestWebhookHandlerInAWorker(t *testing.T) {
	t.Parallel()
	type call struct {
		body   string
		header http.Header
	}
	var mu sync.Mutex
	var calls []call
	statuses := []int{200, 400, 503, 200}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		i := len(calls)
		calls = append(calls, call{string(b), r.Header.Clone()})
		mu.Unlock()
		if r.Method != http.MethodPost || i >= len(statuses) {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.WriteHeader(statuses[i])
	}))
	defer srv.Close()
	h, err := Webhook(WebhookConfig{URL: srv.URL, Headers: map[string]string{"Authorization": "Bearer t"}}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t)
	e.topic(t, "orders")
	w := e.startWorker(t, Subscription{Name: "hook", Topic: "orders", Backoff: []time.Duration{100 * time.Millisecond}, Handler: h})
	for i, body := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		e.publish(t, "orders", Outgoing{Key: "created", Data: []byte(body), CorrelationID: "c" + body[5:6],
			Header: nats.Header{"X-Seq": {string(rune('1' + i))}}})
	}
	waitFor(t, 10*time.Second, "three outcomes", func() bool { s := w.Stats(); return s.Acked+s.DeadLettered == 3 })
	dl := deadLetters(t, NewDLQ(e.js, DLQConfig{}), ListOptions{}, 1)[0]
	s := w.Stats()
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 4 || s.Acked != 2 || s.DeadLettered != 1 || s.Retried != 1 {
		t.Fatalf("calls %d, stats %+v", len(calls), s)
	}
	want := []struct{ body, attempt string }{{`{"n":1}`, "1"}, {`{"n":2}`, "1"}, {`{"n":3}`, "1"}, {`{"n":3}`, "2"}}
	for i, c := range calls {
		if c.body != want[i].body || c.header.Get(WebhookHeaderAttempt) != want[i].attempt ||
			c.header.Get(WebhookHeaderSubject) != "topic.orders.normal.created" || c.header.Get("Authorization") != "Bearer t" ||
			c.header.Get("Content-Type") != "application/json" || c.header.Get(wire.HeaderCorrelationID) == "" || c.header.Get("X-Seq") == "" {
			t.Errorf("call %d: %s %v", i, c.body, c.header)
		}
	}
	if dl.Original == nil || string(dl.Original.Data) != `{"n":2}` || dl.Deliveries != 1 || !strings.Contains(dl.Reason, "HTTP 400") {
		t.Fatalf("dead letter %+v", dl)
	}
}
