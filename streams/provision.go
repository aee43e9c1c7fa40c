package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrStreamConflict is returned when a stream or bucket already exists with a
// setting jetflow cannot change in place.
var ErrStreamConflict = errors.New("streams: existing stream conflicts with its definition")

// StreamConflictError names the stream and the setting that conflicts.
type StreamConflictError struct {
	Stream  string
	Setting string
	Have    string
	Want    string
}

func (e *StreamConflictError) Error() string {
	return fmt.Sprintf("streams: stream %s exists with %s %s, the definition wants %s; change the configuration or migrate the stream",
		e.Stream, e.Setting, e.Have, e.Want)
}

func (e *StreamConflictError) Is(target error) bool { return target == ErrStreamConflict }

// StreamManager is the part of jetstream.JetStream that provisioning needs.
type StreamManager interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
	CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
	UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
}

// EnsureStream creates the stream when missing and applies compatible
// changes (limits, replicas, flags) when it exists. Subjects, storage and
// retention are never changed in place: a difference there is a
// *StreamConflictError, so an operator's stream is never silently rewired.
//
// Calls that go unanswered or meet a cluster still electing are retried
// until ctx ends.
func EnsureStream(ctx context.Context, js StreamManager, want jetstream.StreamConfig) (jetstream.Stream, error) {
	return retryTransient(ctx, func(ctx context.Context) (jetstream.Stream, error) { return ensureStream(ctx, js, want) })
}

func ensureStream(ctx context.Context, js StreamManager, want jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another instance created it between our lookup and create.
			return ensureStream(ctx, js, want)
		}
		if err != nil {
			return nil, fmt.Errorf("streams: create stream %s: %w", want.Name, err)
		}
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("streams: look up stream %s: %w", want.Name, err)
	}
	have := st.CachedInfo().Config
	if err := checkImmutable(have, want); err != nil {
		return nil, err
	}
	if !needsUpdate(have, want) {
		return st, nil
	}
	st, err = js.UpdateStream(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("streams: update stream %s to its definition: %w", want.Name, err)
	}
	return st, nil
}

func checkImmutable(have, want jetstream.StreamConfig) error {
	conflict := func(setting string, h, w any) error {
		return &StreamConflictError{Stream: want.Name, Setting: setting, Have: fmt.Sprint(h), Want: fmt.Sprint(w)}
	}
	if !sameSet(have.Subjects, want.Subjects) {
		return conflict("subjects", have.Subjects, want.Subjects)
	}
	if have.Storage != want.Storage {
		return conflict("storage", have.Storage, want.Storage)
	}
	if have.Retention != want.Retention {
		return conflict("retention", have.Retention, want.Retention)
	}
	// The server refuses to lift these protections once set.
	if have.DenyDelete && !want.DenyDelete {
		return conflict("deny_delete", have.DenyDelete, want.DenyDelete)
	}
	if have.DenyPurge && !want.DenyPurge {
		return conflict("deny_purge", have.DenyPurge, want.DenyPurge)
	}
	if have.AllowMsgSchedules && !want.AllowMsgSchedules {
		return conflict("allow_msg_schedules", have.AllowMsgSchedules, want.AllowMsgSchedules)
	}
	return nil
}

func needsUpdate(have, want jetstream.StreamConfig) bool {
	return have.Replicas != max(want.Replicas, 1) ||
		have.MaxAge != want.MaxAge ||
		(want.Duplicates != 0 && have.Duplicates != want.Duplicates) ||
		have.MaxMsgs != orUnlimited(want.MaxMsgs) ||
		have.MaxBytes != orUnlimited(want.MaxBytes) ||
		have.MaxMsgSize != orUnlimited32(want.MaxMsgSize) ||
		have.AllowDirect != want.AllowDirect ||
		have.AllowAtomicPublish != want.AllowAtomicPublish ||
		have.AllowMsgTTL != want.AllowMsgTTL ||
		(want.AllowMsgSchedules && !have.AllowMsgSchedules) ||
		have.DenyDelete != want.DenyDelete ||
		have.DenyPurge != want.DenyPurge ||
		have.Discard != want.Discard ||
		have.Description != want.Description
}

func orUnlimited(v int64) int64 {
	if v == 0 {
		return -1
	}
	return v
}

func orUnlimited32(v int32) int32 {
	if v == 0 {
		return -1
	}
	return v
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// KeyValueManager is the part of jetstream.JetStream that bucket provisioning needs.
type KeyValueManager interface {
	StreamManager
	KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error)
	CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
	UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
}

// EnsureKeyValue creates the bucket when missing and applies compatible
// changes; a bucket that exists with other storage is a *StreamConflictError.
// It creates rather than create-or-updates a missing bucket: concurrent
// create-or-update calls for one replicated bucket were seen to hang on
// nats-server 2.15, which is what two instances starting together do.
func EnsureKeyValue(ctx context.Context, js KeyValueManager, want jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return retryTransient(ctx, func(ctx context.Context) (jetstream.KeyValue, error) { return ensureKeyValue(ctx, js, want) })
}

func ensureKeyValue(ctx context.Context, js KeyValueManager, want jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	backing := "KV_" + want.Bucket
	st, err := js.Stream(ctx, backing)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		kv, err := js.CreateKeyValue(ctx, want)
		switch {
		case errors.Is(err, jetstream.ErrBucketExists), errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
			// Another instance created it between our look-up and create.
			return ensureKeyValue(ctx, js, want)
		case err != nil:
			return nil, fmt.Errorf("streams: create bucket %s: %w", want.Bucket, err)
		}
		return kv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("streams: look up bucket %s: %w", want.Bucket, err)
	}
	have := st.CachedInfo().Config
	if have.Storage != want.Storage {
		return nil, &StreamConflictError{Stream: backing, Setting: "storage", Have: have.Storage.String(), Want: want.Storage.String()}
	}
	if have.Replicas == max(want.Replicas, 1) && have.MaxMsgsPerSubject == int64(max(want.History, 1)) &&
		have.MaxAge == want.TTL && have.Description == want.Description {
		return js.KeyValue(ctx, want.Bucket)
	}
	kv, err := js.UpdateKeyValue(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("streams: update bucket %s to its definition: %w", want.Bucket, err)
	}
	return kv, nil
}
