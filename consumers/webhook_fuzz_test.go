package consumers

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzWebhookResponse feeds the answers a webhook may give (any status,
// any Location, any body) to what the worker makes of them: a 2xx is an
// acknowledgement, anything else a *WebhookError with that status whose
// body it holds is bounded; 5xx, 408 and 429 are retried and every other
// answer is permanent (dead-lettered), and nothing panics.
func FuzzWebhookResponse(f *testing.F) {
	f.Add(204, "", []byte(nil))
	f.Add(200, "", []byte(`{"ok":true}`))
	f.Add(500, "", []byte("internal error\n"))
	f.Add(429, "", []byte("slow down"))
	f.Add(400, "", []byte(`{"error":"bad payload"}`))
	f.Add(302, "https://user:secret@elsewhere.example/hook?token=abc", []byte(nil))
	f.Add(308, "/moved", []byte("moved"))
	f.Add(101, "", []byte{0xff, 0xfe})
	f.Add(500, "", append(bytes.Repeat([]byte("a"), 255), "é"...)) // the cut splits é
	f.Fuzz(func(t *testing.T, status int, location string, body []byte) {
		if status < 100 || status > 999 {
			return // not an HTTP status: net/http refuses it before us
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		if location != "" {
			resp.Header.Set("Location", location)
		}
		err := classifyWebhook("http://127.0.0.1/hook", resp)
		if status >= 200 && status < 300 {
			if err != nil {
				t.Fatalf("%d: %v, want an acknowledgement", status, err)
			}
			return
		}
		var we *WebhookError
		if !errors.As(err, &we) || we.Status != status || !errors.Is(err, ErrWebhook) {
			t.Fatalf("%d: %v, want a *WebhookError with that status", status, err)
		}
		if IsPermanent(err) == WebhookRetryable(status) {
			t.Fatalf("%d: permanent %v, retryable %v", status, IsPermanent(err), WebhookRetryable(status))
		}
		redirect := status >= 300 && status < 400 && location != ""
		if !redirect && len(we.Body) > maxErrorBody {
			t.Fatalf("%d: kept %d bytes of the body, at most %d", status, len(we.Body), maxErrorBody)
		}
		if !utf8.ValidString(we.Body) {
			t.Fatalf("%d: body text %q is not UTF-8", status, we.Body)
		}
		if err.Error() == "" {
			t.Fatalf("%d: an error without text", status)
		}
	})
}
