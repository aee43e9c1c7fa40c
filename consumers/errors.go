package consumers

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidTopic is returned for a topic name that cannot become a stream
	// name and a subject token.
	ErrInvalidTopic = errors.New("consumers: invalid topic name")
	// ErrInvalidSubject is returned for a message subject or subscription
	// subject filter that is not a valid NATS subject.
	ErrInvalidSubject = errors.New("consumers: invalid subject")
	// ErrInvalidPriority is returned for a priority other than low, normal,
	// high or critical.
	ErrInvalidPriority = errors.New("consumers: invalid priority")
	// ErrInvalidTTL is returned for a message TTL the server cannot honour.
	ErrInvalidTTL = errors.New("consumers: invalid TTL")
	// ErrInvalidTraceParent is returned for a traceparent that is not a W3C one.
	ErrInvalidTraceParent = errors.New("consumers: invalid traceparent")
	// ErrInvalidFilter is returned for a payload filter that cannot be parsed
	// or evaluated.
	ErrInvalidFilter = errors.New("consumers: invalid filter")
	// ErrInvalidConfig is returned for a topic, subscription, DLQ or worker
	// configuration that fails validation.
	ErrInvalidConfig = errors.New("consumers: invalid configuration")
	// ErrTopicNotFound is returned when publishing to a topic whose stream does
	// not exist.
	ErrTopicNotFound = errors.New("consumers: topic stream not found")

	// ErrPermanent marks a handler error that must not be retried; see Permanent.
	ErrPermanent = errors.New("permanent failure")
	// ErrPanic is returned (wrapped) when a handler panicked.
	ErrPanic = errors.New("handler panicked")

	// ErrWorkerStarted is returned by Start on a worker that was already started.
	ErrWorkerStarted = errors.New("consumers: worker already started")
	// ErrWorkerNotStarted is returned by Stop on a worker that was never started.
	ErrWorkerNotStarted = errors.New("consumers: worker not started")

	// ErrNotAdvisory is returned when a DLQ message is not a consumer
	// MAX_DELIVERIES or MSG_TERMINATED advisory.
	ErrNotAdvisory = errors.New("consumers: not a consumer delivery advisory")
	// ErrNoDLQ is returned when the dead-letter stream does not exist.
	ErrNoDLQ = errors.New("consumers: dead-letter stream does not exist")
	// ErrDeadLetterNotFound is returned for a dead-letter id the DLQ does not hold.
	ErrDeadLetterNotFound = errors.New("consumers: dead letter not found")
	// ErrOriginalGone is returned when the source stream no longer holds the
	// original message of a dead letter (max age, TTL, limits or deletion).
	ErrOriginalGone = errors.New("consumers: original message no longer in its stream")
	// ErrReplayUnsupported is returned for a dead letter whose source stream
	// is not a topic: republishing into it (e.g. EVENTS) would forge history.
	ErrReplayUnsupported = errors.New("consumers: replay is only possible for topic messages")
	// ErrSubscriptionGone is returned for a dead letter whose consumer no
	// longer exists: every running subscription would skip the replay.
	ErrSubscriptionGone = errors.New("consumers: the dead letter's consumer no longer exists")

	// ErrSubscriptionChanged is matched by a *SubscriptionMismatchError: the
	// subscription's stored consumers differ from the definition asked for,
	// and the worker was not told to update them (WithSubscriptionUpdate).
	ErrSubscriptionChanged = errors.New("consumers: subscription differs from its stored definition")
	// ErrSubscriptionInUse is returned (wrapped, with the mismatch) when an
	// update was allowed but other workers are attached to the subscription:
	// they run the old definition, and two definitions taking turns skip
	// messages. Stop them first.
	ErrSubscriptionInUse = errors.New("consumers: subscription is in use by running workers")
)

// SettingDiff is one consumer setting whose stored value differs from the
// one asked for, both as an operator reads them.
type SettingDiff struct {
	// Setting is the consumer setting, named as the server names it
	// (max_deliver, ack_wait…), or "filter" for the subject filters.
	Setting string
	Stored  string
	Asked   string
}

func (d SettingDiff) String() string {
	return d.Setting + ": stored " + d.Stored + ", asked " + d.Asked
}

// SubscriptionMismatchError reports a subscription whose stored durable
// consumers differ from its definition. It matches ErrSubscriptionChanged.
type SubscriptionMismatchError struct {
	Subscription string
	Stream       string
	// Consumers are the durable consumers that differ.
	Consumers []string
	// Diffs lists each differing setting once (the priority levels of a
	// topic subscription share them; topic filters are shown as the key
	// patterns of Subscription.Subjects).
	Diffs []SettingDiff
}

func (e *SubscriptionMismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "consumers: subscription %s on stream %s differs from its stored definition: ", e.Subscription, e.Stream)
	for i, d := range e.Diffs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrSubscriptionChanged) hold.
func (e *SubscriptionMismatchError) Is(target error) bool { return target == ErrSubscriptionChanged }

// permanentError wraps a handler error that must not be retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() []error {
	return []error{ErrPermanent, e.err}
}

// Permanent marks err as permanent: the worker terminates the message on the
// first failure (it is dead-lettered with err's text as the reason) instead
// of retrying it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent anywhere in its chain.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// PanicError is the error a handler's panic becomes.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string        { return fmt.Sprintf("handler panicked: %v", e.Value) }
func (e *PanicError) Is(target error) bool { return target == ErrPanic }
