package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/streams"
)

func newEventsCmd(l *loader) *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
		after  uint64
	)
	cmd := &cobra.Command{
		Use:     "events <aggregate_type> <aggregate_id>",
		Short:   "Print an aggregate's events",
		Example: "  jetflow events user 0198c0de-…\n  jetflow events user 0198c0de-… --json",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings, err := cf.load(cmd, l)
			if err != nil {
				return err
			}
			cfg := streams.DefaultConfig()
			cfg.EventStream, cfg.SubjectPrefix = settings.Events.Stream, settings.Events.SubjectPrefix
			nc, err := cf.connect(settings)
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			store, err := streams.NewStore(js, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "VERSION\tSEQUENCE\tTYPE\tOCCURRED AT\tCORRELATION\tDATA")
			}
			n := 0
			ctx, cancel := cf.bound(cmd.Context())
			defer cancel()
			for ev, err := range store.Load(ctx, args[0], args[1], after) {
				if err != nil {
					return explainLoadError(ctx, js, cfg.EventStream, err)
				}
				n++
				if asJSON {
					line, _ := json.Marshal(ev)
					fmt.Fprintln(out, string(line))
					continue
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", ev.Version, ev.Sequence, ev.Type,
					ev.OccurredAt.Format(time.RFC3339), ev.Metadata.CorrelationID, ev.Data)
			}
			if !asJSON {
				if err := tw.Flush(); err != nil {
					return err
				}
				if n == 0 {
					msg, err := noEvents(ctx, js, cfg.EventStream, store.Subject(args[0], args[1]), after)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "%s %s %s\n", args[0], args[1], msg)
				}
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	cmd.Flags().Uint64Var(&after, "after", 0, "only events after this stream sequence")
	keyFlags(cmd.Flags(),
		configFlag{"stream", "events.stream", "event stream name (default: events.stream of jetflow.tsk)"},
		configFlag{"subject-prefix", "events.subject_prefix", "event subject prefix (default: events.subject_prefix of jetflow.tsk)"},
	)
	return cmd
}

// missingStreamError is an event stream that does not exist; it matches
// jetstream.ErrStreamNotFound.
type missingStreamError struct {
	Stream string
	Have   []string // the streams that do exist
}

func (e *missingStreamError) Error() string {
	have := "this server has no streams"
	if len(e.Have) > 0 {
		have = "streams on this server: " + strings.Join(e.Have, ", ")
	}
	return fmt.Sprintf("stream %s does not exist (%s); name the event stream with --stream or events.stream in jetflow.tsk", e.Stream, have)
}

func (e *missingStreamError) Unwrap() error { return jetstream.ErrStreamNotFound }

// explainLoadError says which stream is missing when a load failed because
// --stream (or events.stream) names none: the direct get only says "503".
func explainLoadError(ctx context.Context, js jetstream.JetStream, stream string, err error) error {
	if _, serr := js.Stream(ctx, stream); !errors.Is(serr, jetstream.ErrStreamNotFound) {
		return err
	}
	var names []string
	for name := range js.StreamNames(ctx).Name() {
		names = append(names, name)
	}
	slices.Sort(names)
	return &missingStreamError{Stream: stream, Have: names}
}

// noEvents says why nothing was printed: the aggregate has no events, or
// none after --after (then how many it has and the last one's sequence).
func noEvents(ctx context.Context, js jetstream.JetStream, stream, subject string, after uint64) (string, error) {
	if after == 0 {
		return "has no events", nil
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	last, err := st.GetLastMsgForSubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return "has no events", nil
	case err != nil:
		return "", err
	}
	count := "some"
	if evs, derr := streams.DecodeEvents(last.Subject, last.Header, last.Data, last.Sequence); derr == nil {
		count = strconv.FormatUint(evs[len(evs)-1].Version, 10) // 1-based: the last version is the count
	}
	noun := "events"
	if count == "1" {
		noun = "event"
	}
	return fmt.Sprintf("has %s %s (last sequence %d); none after %d", count, noun, last.Sequence, after), nil
}
