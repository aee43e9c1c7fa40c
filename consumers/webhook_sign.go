package consumers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The Standard Webhooks signature (https://www.standardwebhooks.com):
// what Stripe, Svix and GitHub do in their own words, with libraries for
// receivers in many languages.

// ErrWebhookSignature is returned by VerifyWebhook for a call that is not
// signed with the secret, or not recently.
var ErrWebhookSignature = errors.New("consumers: webhook signature not valid")

// DefaultWebhookTolerance is how far a call's webhook-timestamp may be
// from the receiver's clock: older calls are refused as replays.
const DefaultWebhookTolerance = 5 * time.Minute

// webhookKey turns a configured secret into the HMAC key.
func webhookKey(secret string) ([]byte, error) {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		var err error
		if key, err = base64.StdEncoding.DecodeString(rest); err != nil {
			return nil, errors.New(`"whsec_" must be followed by base64`)
		}
	}
	if len(key) < minWebhookKey {
		return nil, fmt.Errorf("%d bytes of key, at least %d needed", len(key), minWebhookKey)
	}
	return key, nil
}

// signWebhook is base64(HMAC-SHA256(key, id "." timestamp "." body)).
func signWebhook(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func signRequest(req *http.Request, key []byte, id string, now time.Time, body []byte) {
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set(WebhookHeaderID, id)
	req.Header.Set(WebhookHeaderTimestamp, ts)
	req.Header.Set(WebhookHeaderSignature, "v1,"+signWebhook(key, id, ts, body))
}

func isWebhookSignatureHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case http.CanonicalHeaderKey(WebhookHeaderID), http.CanonicalHeaderKey(WebhookHeaderTimestamp), http.CanonicalHeaderKey(WebhookHeaderSignature):
		return true
	}
	return false
}

// deliveryID names one message's delivery to one subscription, the same
// on every attempt, so a receiver can drop a call it already handled.
func deliveryID(m *Message) string {
	if md, err := m.Metadata(); err == nil && md.Stream != "" && md.Sequence.Stream > 0 {
		return md.Stream + "-" + strconv.FormatUint(md.Sequence.Stream, 10) + "-" + m.Subscription()
	}
	if id := m.ID(); id != "" {
		return id
	}
	return uuid.NewString()
}

// WebhookVerifier checks the signature of webhook calls on the receiving
// side.
type WebhookVerifier struct {
	// Secret is the subscription's webhook secret.
	Secret string
	// Tolerance bounds the age of a call (default DefaultWebhookTolerance).
	Tolerance time.Duration
	// Now is the receiver's clock (default time.Now).
	Now func() time.Time
}

// VerifyWebhook checks that a call received with header and body was
// signed with secret within DefaultWebhookTolerance: a receiver calls it
// before trusting the body, and may drop a webhook-id it has seen.
func VerifyWebhook(secret string, header http.Header, body []byte) error {
	return WebhookVerifier{Secret: secret}.Verify(header, body)
}

// Verify checks one call; errors match ErrWebhookSignature.
func (v WebhookVerifier) Verify(header http.Header, body []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrWebhookSignature, fmt.Sprintf(format, args...))
	}
	key, err := webhookKey(v.Secret)
	if err != nil {
		return bad("the receiver's secret: %v", err)
	}
	id, ts, sigs := header.Get(WebhookHeaderID), header.Get(WebhookHeaderTimestamp), header.Get(WebhookHeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return bad("missing %s, %s or %s", WebhookHeaderID, WebhookHeaderTimestamp, WebhookHeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return bad("%s is not a Unix time", WebhookHeaderTimestamp)
	}
	now, tolerance := time.Now(), v.Tolerance
	if v.Now != nil {
		now = v.Now()
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	if age := now.Unix() - sec; age > int64(tolerance/time.Second) || -age > int64(tolerance/time.Second) {
		return bad("%s is %ds from now, more than %s", WebhookHeaderTimestamp, age, tolerance)
	}
	want := []byte(signWebhook(key, id, ts, body))
	// Several signatures (a sender rotating its secret) are separated by spaces.
	for _, sig := range strings.Fields(sigs) {
		version, mac, ok := strings.Cut(sig, ",")
		if ok && version == "v1" && hmac.Equal([]byte(mac), want) {
			return nil
		}
	}
	return bad("no v1 signature matches")
}
