package consumers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jetflow/jetflow/logctx"
)

// DefaultWebhookTimeout bounds one webhook call.
const DefaultWebhookTimeout = 10 * time.Second

// ErrWebhook is matched by every *WebhookError.
var ErrWebhook = errors.New("webhook failed")

// WebhookConfig configures the built-in webhook handler.
type WebhookConfig struct {
	// URL receives a POST per message (http or https).
	URL string
	// Timeout bounds each call (default 10s); a timeout is retried.
	Timeout time.Duration
	// Headers are added to every request (e.g. Authorization).
	Headers map[string]string
	// Secret signs every request as the Standard Webhooks spec says
	// (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 over
	// id, timestamp and body), so the receiver can check it came from here
	// untouched (VerifyWebhook). "whsec_" + base64 is decoded, any other
	// text is the key as it is; at least 16 bytes. Empty: unsigned.
	Secret string
	// Redirects says which redirects are followed (default RedirectNone).
	Redirects RedirectPolicy
}

// RedirectPolicy says which redirects a webhook call follows.
type RedirectPolicy string

const (
	// RedirectNone follows none: a 3xx is a permanent error naming where
	// it points. The body and the custom headers (a token, a password)
	// never go anywhere but the configured URL.
	RedirectNone RedirectPolicy = "none"
	// RedirectSameOrigin follows 307 and 308 (which keep the POST and its
	// body) to the same scheme, host and port, at most 10 times.
	RedirectSameOrigin RedirectPolicy = "same_origin"
)

// minWebhookKey is the shortest signing key accepted: the Standard
// Webhooks spec asks for 24 to 64 bytes; 16 is where HMAC keys stop being
// guessable.
const minWebhookKey = 16

// Validate reports every problem at once.
func (c WebhookConfig) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, fmt.Errorf("%w: webhook url is required", ErrInvalidConfig))
	case err != nil:
		// url.Parse's error quotes the URL, secrets and all.
		errs = append(errs, fmt.Errorf("%w: webhook url %q does not parse", ErrInvalidConfig, logctx.RedactURL(c.URL)))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("%w: webhook url %q: want http(s)://host/…", ErrInvalidConfig, logctx.RedactURL(c.URL)))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%w: webhook timeout must not be negative", ErrInvalidConfig))
	}
	if c.Secret != "" {
		if _, err := webhookKey(c.Secret); err != nil {
			errs = append(errs, fmt.Errorf("%w: webhook secret: %w", ErrInvalidConfig, err))
		}
	}
	switch c.Redirects {
	case "", RedirectNone, RedirectSameOrigin:
	default:
		errs = append(errs, fmt.Errorf("%w: webhook redirects %q: want %s or %s", ErrInvalidConfig, c.Redirects, RedirectNone, RedirectSameOrigin))
	}
	return errors.Join(errs...)
}

// WebhookError is a webhook call that did not get a 2xx answer. Status is 0
// when no answer came (connection error, timeout). Its text becomes a log
// line and a dead letter's reason, so it holds the URL redacted
// (logctx.RedactURL): no password, no query value.
type WebhookError struct {
	URL    string // redacted
	Status int
	Body   string // the start of the response body
	Err    error  // transport error when Status is 0
}

func (e *WebhookError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("webhook %s: %v", e.URL, e.Err)
	}
	if e.Body != "" {
		return fmt.Sprintf("webhook %s: HTTP %d: %s", e.URL, e.Status, e.Body)
	}
	return fmt.Sprintf("webhook %s: HTTP %d", e.URL, e.Status)
}

func (e *WebhookError) Unwrap() error { return e.Err }

func (e *WebhookError) Is(target error) bool { return target == ErrWebhook }

// Webhook headers added to each request besides the message's own.
const (
	WebhookHeaderSubject = "Jetflow-Subject"
	WebhookHeaderAttempt = "Jetflow-Attempt"
	// The Standard Webhooks headers of a signed call (WebhookConfig.Secret):
	// the delivery's id, the same on every attempt
	// (<stream>-<stream sequence>-<subscription>), the call's Unix time in
	// seconds, and "v1," + base64 of HMAC-SHA256(key, id.timestamp.body).
	WebhookHeaderID        = "webhook-id"
	WebhookHeaderTimestamp = "webhook-timestamp"
	WebhookHeaderSignature = "webhook-signature"
)

// maxErrorBody bounds how much of a failed response the error keeps.
const maxErrorBody = 256

// Webhook returns a handler that POSTs each message to cfg.URL: body = the
// payload, headers = the message's headers plus Jetflow-Subject and
// Jetflow-Attempt, and with cfg.Secret the Standard Webhooks signature
// headers. A 2xx answer acknowledges; any other 4xx except 408 and 429 is
// permanent (dead-lettered at once); 5xx, 408, 429, timeouts and
// connection errors are retried. client nil uses a client of its own.
// Redirects are not followed unless cfg.Redirects is RedirectSameOrigin,
// and then only 307 and 308 (which keep the POST and its body) within the
// URL's origin; any other redirect is a permanent error naming where it
// points.
func Webhook(cfg WebhookConfig, client *http.Client) (Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	var key []byte
	if cfg.Secret != "" {
		key, _ = webhookKey(cfg.Secret) // Validate checked it
	}
	shown := logctx.RedactURL(cfg.URL)
	origin, _ := url.Parse(cfg.URL)
	client = redirectPolicy(client, cfg.Redirects, origin)
	return func(ctx context.Context, m *Message) error {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(m.Data()))
		if err != nil {
			return Permanent(&WebhookError{URL: shown, Err: redactURLError(err)})
		}
		for k, vs := range m.Header() {
			if isWebhookSignatureHeader(k) {
				continue // a publisher's own would pass for ours
			}
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		for k, v := range cfg.Headers {
			req.Header.Set(k, v)
		}
		if req.Header.Get("Content-Type") == "" {
			ct := "application/octet-stream"
			if json.Valid(m.Data()) {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set(WebhookHeaderSubject, m.Subject())
		if a := m.Attempt(); a > 0 {
			req.Header.Set(WebhookHeaderAttempt, strconv.Itoa(a))
		}
		if key != nil {
			signRequest(req, key, deliveryID(m), time.Now(), m.Data())
		}
		resp, err := client.Do(req)
		if err != nil {
			return &WebhookError{URL: shown, Err: redactURLError(err)} // transport error or timeout: retry
		}
		defer resp.Body.Close()
		return classifyWebhook(shown, resp)
	}, nil
}

// redirectPolicy returns a copy of client (a new one when nil) that
// follows redirects as policy says: none, or 307 and 308 within origin.
// A redirect not followed is answered with the 3xx itself, which
// classifyWebhook turns into a permanent error naming the location.
func redirectPolicy(client *http.Client, policy RedirectPolicy, origin *url.URL) *http.Client {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if policy != RedirectSameOrigin || req.Method != http.MethodPost || !sameOrigin(req.URL, origin) {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return c
}

// sameOrigin compares scheme, host and port, the default port included.
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// redactURLError keeps a transport error's cause (errors.Is still finds a
// timeout) with the URL it quotes redacted.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: logctx.RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// errorBodyText is a failed response's body as text for logs and
// dead-letter reasons, which stay UTF-8: the cut at maxErrorBody may split
// a character, and a receiver may answer anything.
func errorBodyText(body []byte) string {
	text := strings.ToValidUTF8(string(bytes.TrimSpace(body)), "\uFFFD")
	for len(text) > maxErrorBody {
		_, size := utf8.DecodeLastRuneInString(text)
		text = text[:len(text)-size]
	}
	return text
}

// classifyWebhook maps an answer to nil, a retryable or a permanent error.
func classifyWebhook(u string, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	err := &WebhookError{URL: u, Status: resp.StatusCode, Body: errorBodyText(body)}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		err.Body = "redirects to " + strings.ToValidUTF8(logctx.RedactURL(loc), "\uFFFD") + " (not followed: set the webhook URL to it; " +
			"only 307 and 308 within the URL's origin are followed, with redirects same_origin)"
	}
	if WebhookRetryable(resp.StatusCode) {
		return err
	}
	return Permanent(err)
}

// WebhookRetryable reports whether a non-2xx status is worth retrying:
// 5xx, 408 Request Timeout and 429 Too Many Requests. Other statuses
// (4xx, and 1xx/3xx that were not followed) will not change on a retry.
func WebhookRetryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}
