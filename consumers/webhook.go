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
	"time"
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
}

// Validate reports every problem at once.
func (c WebhookConfig) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, fmt.Errorf("%w: webhook url is required", ErrInvalidConfig))
	case err != nil:
		errs = append(errs, fmt.Errorf("%w: webhook url: %w", ErrInvalidConfig, err))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("%w: webhook url %q: want http(s)://host/…", ErrInvalidConfig, c.URL))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%w: webhook timeout must not be negative", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// WebhookError is a webhook call that did not get a 2xx answer. Status is 0
// when no answer came (connection error, timeout).
type WebhookError struct {
	URL    string
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
)

// maxErrorBody bounds how much of a failed response the error keeps.
const maxErrorBody = 256

// Webhook returns a handler that POSTs each message to cfg.URL: body = the
// payload, headers = the message's headers plus Jetflow-Subject and
// Jetflow-Attempt. A 2xx answer acknowledges; any other 4xx except 408 and
// 429 is permanent (dead-lettered at once); 5xx, 408, 429, timeouts and
// connection errors are retried. client nil uses a client of its own.
// Redirects are followed only when they keep the POST and its body (307,
// 308); a 301, 302 or 303 is answered as a permanent error naming the new
// location, since following it would send a GET without the payload.
func Webhook(cfg WebhookConfig, client *http.Client) (Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	client = postOnlyRedirects(client)
	return func(ctx context.Context, m *Message) error {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(m.Data()))
		if err != nil {
			return Permanent(&WebhookError{URL: cfg.URL, Err: err})
		}
		for k, vs := range m.Header() {
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
		resp, err := client.Do(req)
		if err != nil {
			return &WebhookError{URL: cfg.URL, Err: err} // transport error or timeout: retry
		}
		defer resp.Body.Close()
		return classifyWebhook(cfg.URL, resp)
	}, nil
}

// postOnlyRedirects returns a copy of client (a new one when nil) that
// stops at a redirect which would turn the POST into a bodiless GET.
func postOnlyRedirects(client *http.Client) *http.Client {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Method != http.MethodPost {
			return http.ErrUseLastResponse
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return c
}

// classifyWebhook maps an answer to nil, a retryable or a permanent error.
func classifyWebhook(u string, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	err := &WebhookError{URL: u, Status: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		err.Body = "redirects to " + loc + " (a POST is not followed there as a GET; set the webhook URL to it)"
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
