package processes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Summary counts a manager's instances, as `jetflow processes ls` shows
// them.
type Summary struct {
	Process string `json:"process"`
	Bucket  string `json:"bucket"`
	// Running instances, and Ended ones whose record is kept (KeepEnded).
	Running int `json:"running"`
	Ended   int `json:"ended"`
	// Removed are ended instances whose record is gone, still remembered
	// (RememberEnded) so that late events for them are skipped.
	Removed int `json:"removed"`
}

// Buckets lists the instance buckets the server holds (proc_*), sorted.
func Buckets(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	var out []string
	names := js.StreamNames(ctx, jetstream.WithStreamListSubject("$KV.*.>"))
	for name := range names.Name() {
		if b, ok := strings.CutPrefix(name, "KV_"); ok && strings.HasPrefix(b, BucketPrefix) {
			out = append(out, b)
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("processes: list buckets: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// Summarize counts the instances of process in bucket, reading the
// status header of each instance's record (not the records).
func Summarize(ctx context.Context, js jetstream.JetStream, process, bucket string) (Summary, error) {
	s := Summary{Process: process, Bucket: bucket}
	st, err := js.Stream(ctx, "KV_"+bucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return s, fmt.Errorf("%w: %s (bucket %s)", ErrProcessNotFound, process, bucket)
	}
	if err != nil {
		return s, fmt.Errorf("processes: %s: %w", process, err)
	}
	want := int(st.CachedInfo().State.NumSubjects)
	if want == 0 {
		return s, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, HeadersOnly: true, InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return s, fmt.Errorf("processes: %s: %w", process, err)
	}
	// The reader is deleted when done, so that counting leaves nothing
	// behind on the bucket (the inactive threshold, should that fail).
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = st.DeleteConsumer(dctx, info.Name)
		}
	}()
	for seen := 0; seen < want; {
		batch, err := cons.Fetch(min(want-seen, 1000), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return s, fmt.Errorf("processes: %s: %w", process, err)
		}
		got, last := 0, false
		for m := range batch.Messages() {
			got++
			s.count(m.Headers())
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				last = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return s, fmt.Errorf("processes: %s: %w", process, err)
		}
		if got == 0 || last {
			break
		}
		seen += got
	}
	return s, nil
}

func (s *Summary) count(h nats.Header) {
	tomb := h.Get(hdrKVOperation) != "" || h.Get(hdrMarkerReason) != ""
	switch {
	case tomb:
		s.Removed++
	case h.Get(HeaderStatus) == StatusEnded:
		s.Ended++
	case h.Get(HeaderStatus) == StatusRunning:
		s.Running++
	}
}

// Show reads the record of instance id from bucket: its state, pending
// deadlines, the messages it handled and the effects not known done. An
// instance that ended and was removed is shown from its tombstone
// (Removed set) while it is remembered; otherwise, and for an id never
// seen, the error is ErrInstanceNotFound.
func Show(ctx context.Context, js jetstream.JetStream, bucket, id string) (Record, error) {
	if err := ValidateInstanceID(id); err != nil {
		return Record{}, err
	}
	st, err := readRecord(ctx, js, bucket, InstanceKey(id))
	if errors.Is(err, ErrProcessNotFound) {
		return Record{}, fmt.Errorf("%w: bucket %s does not exist (no instance has started yet, or processes.<name>.bucket names another)",
			ErrProcessNotFound, bucket)
	}
	if err != nil {
		return Record{}, fmt.Errorf("processes: instance %s in %s: %w", id, bucket, err)
	}
	if st.rec == nil {
		if st.tomb {
			return Record{}, fmt.Errorf("%w: %s ended and was removed (bucket %s)", ErrInstanceNotFound, id, bucket)
		}
		return Record{}, fmt.Errorf("%w: %s (bucket %s)", ErrInstanceNotFound, id, bucket)
	}
	rec := *st.rec
	rec.Removed = st.tomb
	return rec, nil
}
