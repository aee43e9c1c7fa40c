package consumers

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a webhook endpoint that checks every call's signature as a
// receiver following the Standard Webhooks spec would.
type receiver struct {
	mu    sync.Mutex
	calls []http.Header
	errs  []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	err := VerifyWebhook(testSecret, r.Header, body)
	rc.mu.Lock()
	rc.calls = append(rc.calls, r.Header.Clone())
	rc.errs = append(rc.errs, err)
	n := len(rc.calls)
	rc.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if n == 1 {
		w.WriteHeader(http.StatusServiceUnavailable) // the retry must be signed too, under the same id
	}
}

// Every call carries webhook-id, webhook-timestamp and webhook-signature
// (HMAC-SHA256 over id, timestamp and body); the receiver's check passes,
// a retry keeps the delivery id, and a changed body fails the check.
func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	h, err := Webhook(WebhookConfig{URL: srv.URL, Secret: testSecret}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	msg := newMessage(&fakeMsg{subject: "topic.orders.normal.created", data: []byte(`{"n":1}`),
		meta: &jetstream.MsgMetadata{Stream: "TOPIC_ORDERS", Sequence: jetstream.SequencePair{Stream: 42}, NumDelivered: 1}}, "billing", "orders")
	if err := h(context.Background(), msg); err == nil || IsPermanent(err) {
		t.Fatalf("first call: %v, want a retryable 503", err)
	}
	if err := h(context.Background(), msg); err != nil {
		t.Fatalf("retry: %v", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i, e := range rc.errs {
		if e != nil {
			t.Fatalf("call %d: the receiver refused the signature: %v", i+1, e)
		}
	}
	first, retry := rc.calls[0], rc.calls[1]
	if id := first.Get(WebhookHeaderID); id == "" || id != retry.Get(WebhookHeaderID) || id != "TOPIC_ORDERS-42-billing" {
		t.Fatalf("delivery ids %q and %q: want one stable id", id, retry.Get(WebhookHeaderID))
	}
	if !strings.HasPrefix(first.Get(WebhookHeaderSignature), "v1,") || first.Get(WebhookHeaderTimestamp) == "" {
		t.Fatalf("headers %v", first)
	}
	if err := VerifyWebhook(testSecret, first, []byte(`{"n":2}`)); !errors.Is(err, ErrWebhookSignature) {
		t.Fatalf("a changed body: %v", err)
	}
	if err := VerifyWebhook("whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4u", first, []byte(`{"n":1}`)); !errors.Is(err, ErrWebhookSignature) {
		t.Fatalf("another secret: %v", err)
	}
}

// The Standard Webhooks test vector: this implementation and the spec's
// reference libraries sign alike.
func TestWebhookSignatureVector(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set(WebhookHeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(WebhookHeaderTimestamp, "1614265330")
	h.Set(WebhookHeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	v := WebhookVerifier{Secret: testSecret, Now: func() time.Time { return time.Unix(1614265330, 0) }}
	if err := v.Verify(h, []byte(`{"test": 2432232314}`)); err != nil {
		t.Fatalf("the spec's example: %v", err)
	}
	v.Now = func() time.Time { return time.Unix(1614265330, 0).Add(6 * time.Minute) }
	if err := v.Verify(h, []byte(`{"test": 2432232314}`)); !errors.Is(err, ErrWebhookSignature) || !strings.Contains(err.Error(), "timestamp") {
		t.Fatalf("a call replayed after the tolerance: %v", err)
	}
}

func TestWebhookSecretValidated(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"whsec_!!!", "whsec_c2hvcnQ=", "short"} {
		if _, err := Webhook(WebhookConfig{URL: "http://h/", Secret: secret}, nil); !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), secret) {
			t.Errorf("secret %q: %v", secret, err)
		}
	}
	if _, err := Webhook(WebhookConfig{URL: "http://h/", Redirects: "anywhere"}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("redirect policy: %v", err)
	}
}

// A redirect to another origin is never followed: the body and the
// custom (secret) headers would go to a host nobody configured. By
// default no redirect is followed; RedirectSameOrigin follows 307 and
// 308 within the configured scheme, host and port.
func TestWebhookRedirectsStayOnTheConfiguredOrigin(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var elsewhere []string
	other := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere = append(elsewhere, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	t.Cleanup(other.Close)
	var final []string
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal?token=location-s3cret", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/final", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/final", func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		final = append(final, string(b))
		mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		path      string
		redirects RedirectPolicy
		followed  bool
	}{
		{"/moved", RedirectNone, false},
		{"/away", RedirectNone, false},
		{"/moved", RedirectSameOrigin, true},
		{"/away", RedirectSameOrigin, false},
	} {
		h, err := Webhook(WebhookConfig{URL: srv.URL + tc.path, Redirects: tc.redirects,
			Headers: map[string]string{"Authorization": "Bearer header-s3cret"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		final = nil
		mu.Unlock()
		err = h(context.Background(), testMessage("s", `{"id":1}`, nil))
		mu.Lock()
		got := len(final)
		mu.Unlock()
		if tc.followed {
			if err != nil || got != 1 {
				t.Errorf("%s %s: %v, %d calls at /final; want it followed", tc.redirects, tc.path, err, got)
			}
			continue
		}
		var we *WebhookError
		if !IsPermanent(err) || !errors.As(err, &we) || we.Status/100 != 3 || !strings.Contains(err.Error(), "redirects to") || got != 0 {
			t.Errorf("%s %s: %v; want a permanent error naming where it points", tc.redirects, tc.path, err)
		}
		if strings.Contains(err.Error(), "location-s3cret") {
			t.Errorf("the error prints the Location's token: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(elsewhere) != 0 {
		t.Fatalf("the other origin got %d calls with %q", len(elsewhere), elsewhere)
	}
}

// A webhook URL's password and query values (tokens) are in no error, so
// neither in logs nor in a dead letter's reason.
func TestWebhookErrorsRedactTheURL(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for _, base := range []string{srv.URL, closedURL} {
		u := strings.Replace(base, "http://", "http://bob:pw-s3cret@", 1) + "/hook?token=tok-s3cret"
		h, err := Webhook(WebhookConfig{URL: u}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = h(context.Background(), testMessage("s", "{}", nil))
		if err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(err.Error(), "pw-s3cret") || strings.Contains(err.Error(), "tok-s3cret") {
			t.Errorf("error leaks the URL's secrets: %v", err)
		}
		if !strings.Contains(err.Error(), "/hook?token=xxxxx") {
			t.Errorf("error does not say where: %v", err)
		}
	}
}

// FuzzVerifyWebhook: whatever headers a call brings, verification answers
// without panicking and accepts only a signature made with the secret.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add("msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("", "", "", []byte{})
	f.Add("x", "-1", "v1, v1,=== v2,abc", []byte("x"))
	f.Add("x", "99999999999999999999", "v1a,", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(WebhookHeaderID, id)
		h.Set(WebhookHeaderTimestamp, ts)
		h.Set(WebhookHeaderSignature, sig)
		v := WebhookVerifier{Secret: testSecret, Tolerance: 1<<63 - 1, Now: func() time.Time { return time.Unix(1614265330, 0) }}
		err := v.Verify(h, body)
		if err == nil {
			key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(testSecret, "whsec_"))
			want := "v1," + signWebhook(key, id, ts, body)
			if !strings.Contains(" "+sig+" ", " "+want+" ") {
				t.Fatalf("accepted %q for id %q ts %q", sig, id, ts)
			}
			if _, perr := strconv.ParseInt(ts, 10, 64); perr != nil {
				t.Fatalf("accepted timestamp %q", ts)
			}
		} else if !errors.Is(err, ErrWebhookSignature) {
			t.Fatalf("error %v is not ErrWebhookSignature", err)
		}
	})
}

// The dead letter of a failed webhook call (kept 30 days, and in backups)
// holds the URL redacted: `jetflow dlq show` prints no token.
func TestDeadLetterReasonRedactsTheWebhookURL(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	u := strings.Replace(srv.URL, "http://", "http://bob:pw-s3cret@", 1) + "/hook?token=tok-s3cret"
	h, err := Webhook(WebhookConfig{URL: u}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t)
	e.topic(t, "orders")
	e.startWorker(t, Subscription{Name: "hook", Topic: "orders", Handler: h})
	e.publish(t, "orders", Outgoing{Key: "created", Data: []byte(`{"n":1}`)})
	dl := deadLetters(t, NewDLQ(e.js, DLQConfig{}), ListOptions{}, 1)[0]
	if strings.Contains(dl.Reason, "pw-s3cret") || strings.Contains(dl.Reason, "tok-s3cret") || !strings.Contains(dl.Reason, "token=xxxxx") {
		t.Fatalf("dead letter reason %q", dl.Reason)
	}
}
