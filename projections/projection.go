package projections

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetflow/jetflow/streams"
)

// Handler turns events into records of a read model, one record per event.
// Implementations must be deterministic functions of the event and the
// record: a rebuild replays the same events and must produce the same model.
type Handler interface {
	// Key names the record ev changes; "" means the event does not concern
	// this read model. Use Key to turn an arbitrary id into a valid key.
	Key(ev streams.Event) (string, error)
	// Apply returns the record after ev, given its current value (nil when
	// the record does not exist). Returning nil deletes the record.
	Apply(ctx context.Context, ev streams.Event, current []byte) ([]byte, error)
}

// Projection is one read model: its name, the event subjects it follows and
// its handler.
type Projection struct {
	// Name is the read model's stable name ("users"): the bucket is
	// rm_<name>, the meta key <name>.
	Name string
	// Subjects filter the EVENTS stream, e.g. "events.user.>".
	Subjects []string
	Handler  Handler

	// Bucket names generation 1's bucket (default <BucketPrefix><Name>);
	// a rebuild's generation N gets <Bucket>_g<N>.
	Bucket string
	// MaxInflight, Retries and Backoff override the runner's Config for
	// this projection when set.
	MaxInflight int
	Retries     int
	Backoff     []time.Duration
}

// Validate checks the projection's definition.
func (p Projection) Validate() error {
	var errs []error
	if !validName(p.Name) {
		errs = append(errs, fmt.Errorf("%w: name %q must be 1 to 64 characters of a-z, 0-9, '_' and '-'", ErrInvalidProjection, p.Name))
	}
	// Generation N's bucket is the base name with _gN appended: a name
	// ending like that would share a bucket with another projection's.
	if GenerationSuffix(p.Name) {
		errs = append(errs, fmt.Errorf("%w: name %q must not end in _g<number> (generation buckets do)", ErrInvalidProjection, p.Name))
	}
	if GenerationSuffix(p.Bucket) {
		errs = append(errs, fmt.Errorf("%w: %s: bucket %q must not end in _g<number> (generation buckets do)", ErrInvalidProjection, p.Name, p.Bucket))
	}
	if len(p.Subjects) == 0 {
		errs = append(errs, fmt.Errorf("%w: %s: at least one subject is required", ErrInvalidProjection, p.Name))
	}
	for _, s := range p.Subjects {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			errs = append(errs, fmt.Errorf("%w: %s: subject %q is not a subject filter", ErrInvalidProjection, p.Name, s))
		}
	}
	if p.Handler == nil {
		errs = append(errs, fmt.Errorf("%w: %s: a handler is required", ErrInvalidProjection, p.Name))
	}
	if p.Bucket != "" {
		if err := streams.ValidateBucketName(p.Bucket); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: bucket: %w", ErrInvalidProjection, p.Name, err))
		}
	}
	if p.MaxInflight < 0 || p.Retries < 0 {
		errs = append(errs, fmt.Errorf("%w: %s: max in-flight and retries must not be negative", ErrInvalidProjection, p.Name))
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// keyPrefixEncoded starts a key that Key had to encode. It never starts a
// key Key passes through, so the two kinds cannot collide.
const keyPrefixEncoded = "="

// Key turns an id into a KV key: ids made of a-z, A-Z, 0-9, '-' and '_'
// are used as they are, anything else (aggregate ids may hold '@', ':' or
// non-ASCII letters, which KV keys may not) becomes "=" + base64url(id).
func Key(id string) string {
	if id == "" {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if !plainKeyByte(id[i]) {
			return keyPrefixEncoded + base64.RawURLEncoding.EncodeToString([]byte(id))
		}
	}
	return id
}

func plainKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// validRecordKey reports whether a handler's key can be a record's KV key:
// a valid KV key that is not one of the runner's own.
func validRecordKey(k string) bool {
	if k == "" || strings.HasPrefix(k, reservedKeyPrefix) || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !plainKeyByte(c) && c != '=' && c != '.' && c != '/' {
			return false
		}
	}
	return true
}

// JSONHandler is a Handler over JSON records of type R.
type JSONHandler[R any] struct {
	// KeyOf names the record an event changes ("" ignores the event).
	KeyOf func(ev streams.Event) (string, error)
	// Evolve changes rec (nil when the record does not exist) and returns
	// the record to store, or nil to delete it.
	Evolve func(ctx context.Context, ev streams.Event, rec *R) (*R, error)
}

// Key implements Handler.
func (h JSONHandler[R]) Key(ev streams.Event) (string, error) { return h.KeyOf(ev) }

// recordCodec is implemented by handlers over decoded records
// (JSONHandler): the runner then keeps records decoded between events and
// encodes a changed record once per batch instead of decoding and
// encoding it for every event.
type recordCodec interface {
	decodeRecord(value []byte) (any, error)
	// evolveRecord returns the record after ev; rec is nil when absent,
	// and so is the result for a deletion. rec is never modified.
	evolveRecord(ctx context.Context, ev streams.Event, rec any) (any, error)
	encodeRecord(rec any) ([]byte, error)
}

func (h JSONHandler[R]) decodeRecord(value []byte) (any, error) {
	rec := new(R)
	if err := json.Unmarshal(value, rec); err != nil {
		return nil, fmt.Errorf("stored record is not valid: %w", err)
	}
	return rec, nil
}

func (h JSONHandler[R]) evolveRecord(ctx context.Context, ev streams.Event, rec any) (any, error) {
	var in *R
	if rec != nil {
		// Evolve may change the record in place; a failed attempt must
		// leave the cached one as it was (a shallow copy suffices for
		// records of plain fields).
		cp := *rec.(*R)
		in = &cp
	}
	out, err := h.Evolve(ctx, ev, in)
	if err != nil || out == nil {
		return nil, err
	}
	return out, nil
}

func (h JSONHandler[R]) encodeRecord(rec any) ([]byte, error) { return json.Marshal(rec) }

// Apply implements Handler.
func (h JSONHandler[R]) Apply(ctx context.Context, ev streams.Event, current []byte) ([]byte, error) {
	var rec *R
	if current != nil {
		rec = new(R)
		if err := json.Unmarshal(current, rec); err != nil {
			return nil, fmt.Errorf("stored record is not valid: %w", err)
		}
	}
	next, err := h.Evolve(ctx, ev, rec)
	if err != nil || next == nil {
		return nil, err
	}
	return json.Marshal(next)
}

// GenerationSuffix reports whether name ends in _g<digits>, the suffix of
// a rebuilt generation's bucket, which projection names and buckets may
// not have.
func GenerationSuffix(name string) bool {
	i := strings.LastIndex(name, "_g")
	if i < 0 || i+2 == len(name) {
		return false
	}
	for _, c := range name[i+2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
