package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what one phase (one fault kind, one run) did and found.
type Report struct {
	Kind Kind `json:"kind"`
	Run  int  `json:"run"`
	// Sync is the servers' fsync policy ("" for the server's default).
	Sync    string        `json:"sync,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Faults is how many faults were injected; FaultLog says which.
	Faults   int      `json:"faults"`
	FaultLog []string `json:"fault_log,omitempty"`

	Commands int `json:"commands"`
	Acked    int `json:"acked"`
	Refused  int `json:"refused"`
	// Lost counts acknowledged commands whose event is not in the stream
	// (as the reply said: at its sequence, with its version).
	Lost int `json:"lost"`
	// AppliedEarlier counts resends answered 409 "applied earlier; its
	// result is no longer remembered" instead of their first reply (their
	// events are checked by correlation id: Lost counts those without).
	AppliedEarlier int `json:"applied_earlier"`
	// AppliedTwice counts commands whose events were written more than once.
	AppliedTwice int `json:"applied_twice"`
	// RefusedButWritten counts commands answered with a 4xx whose events
	// are in the stream.
	RefusedButWritten int `json:"refused_but_written"`
	// Races counts pairs of conflicting commands; DoubleWinners those
	// where both were applied.
	Races         int `json:"races"`
	DoubleWinners int `json:"double_winners"`
	// Events and Aggregates are what the phase wrote; VersionGaps counts
	// aggregates whose versions are not 1, 2, 3… in stream order.
	Events      int `json:"events"`
	Aggregates  int `json:"aggregates"`
	VersionGaps int `json:"version_gaps"`
	// Foreign counts events no client's command explains.
	Foreign int `json:"foreign_events"`
	// StaleReads counts events a replica's read missed and the leader had
	// (not a loss: the reason the leader is asked).
	StaleReads int `json:"stale_reads"`

	// ReadModelRecords is the size of the read model serve built;
	// ReadModelDiffs the records where it differs from a fresh replay.
	ReadModelRecords int `json:"read_model_records"`
	ReadModelDiffs   int `json:"read_model_diffs"`
	// ReadModelBehind counts the events the read model had not applied
	// when the wait for it ended (no comparison is made then).
	ReadModelBehind uint64 `json:"read_model_behind"`
	// ProjectionUnacked counts the events the projection's consumer still
	// had delivered and unacknowledged (or undelivered) once the read model
	// held every event: acks lost in the faults, which the server
	// redelivers after the consumer's ack wait. Not a violation.
	ProjectionUnacked uint64 `json:"projection_unacked"`

	// Published counts topic messages acknowledged by JetStream;
	// TopicLost those the worker never delivered; Redelivered the
	// deliveries beyond the first; TopicUnknown publishes never acked
	// (TopicUnknownStored of them were stored after all).
	Published          int `json:"published"`
	TopicLost          int `json:"topic_lost"`
	Redelivered        int `json:"redelivered"`
	TopicUnknown       int `json:"topic_unknown"`
	TopicUnknownStored int `json:"topic_unknown_stored"`

	// LongestOutage is the longest time without a successful command.
	LongestOutage time.Duration `json:"longest_outage_ns"`
	// Unknown counts commands whose outcome stayed unknown through every
	// attempt; a resend with the same command id afterwards found them
	// applied before (UnknownApplied, answered as a duplicate), applied
	// them (UnknownAppliedOnResend), refused them (UnknownRefused) or
	// still did not answer (UnknownStill).
	Unknown                int `json:"unknown"`
	UnknownApplied         int `json:"unknown_applied"`
	UnknownAppliedOnResend int `json:"unknown_applied_on_resend"`
	UnknownRefused         int `json:"unknown_refused"`
	UnknownStill           int `json:"unknown_still"`
	// FailedAttempts counts the attempts that got no answer, by cause
	// ("timeout", "503", "504", "no responders", "connection").
	FailedAttempts map[string]int `json:"failed_attempts,omitempty"`

	// Problems lists the first violations found, with their details.
	Problems []string `json:"problems,omitempty"`
	// Logs is where the subprocesses' and servers' logs are.
	Logs string `json:"logs,omitempty"`
}

// OK reports whether the phase found nothing wrong: WritesOK, no command
// written though it was refused, and a read model that holds every event
// and equals its replay.
func (r Report) OK() bool {
	return r.WritesOK() && r.RefusedButWritten == 0 && r.ReadModelDiffs == 0 && r.ReadModelBehind == 0
}

// WritesOK reports whether no write was lost, duplicated or double-won: no
// acknowledged command or topic message missing, nothing applied twice, no
// race with two winners, no version gap and no event nobody sent.
func (r Report) WritesOK() bool {
	return r.Lost == 0 && r.AppliedTwice == 0 && r.DoubleWinners == 0 &&
		r.VersionGaps == 0 && r.Foreign == 0 && r.TopicLost == 0
}

// WriteJSON writes r as one JSON line.
func WriteJSON(w io.Writer, r Report) error { return json.NewEncoder(w).Encode(r) }

// WriteTable writes the reports as the table `jetflow chaos` prints.
func WriteTable(w io.Writer, reports []Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault\trun\tsync\ttime\tfaults\tcommands\tacked\tlost\ttwice\trefused yet written\tracing pairs\tdouble wins\tversion gaps\tread model ≠ replay\ttopic acked\ttopic lost\tredelivered\tlongest outage\tunknown → applied / on resend / refused / still\tverdict\t")
	for _, r := range reports {
		sync := r.Sync
		if sync == "" {
			sync = "default"
		}
		verdict := "ok"
		if !r.OK() {
			verdict = "FAILED"
		}
		readModel := fmt.Sprintf("%d/%d", r.ReadModelDiffs, r.ReadModelRecords)
		if r.ReadModelBehind > 0 {
			readModel = fmt.Sprintf("%d events behind", r.ReadModelBehind)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%d → %d / %d / %d / %d\t%s\t\n",
			r.Kind, r.Run, sync, r.Elapsed.Round(time.Second), r.Faults, r.Commands, r.Acked, r.Lost, r.AppliedTwice, r.RefusedButWritten,
			r.Races, r.DoubleWinners, r.VersionGaps, readModel, r.Published, r.TopicLost, r.Redelivered,
			r.LongestOutage.Round(10*time.Millisecond), r.Unknown, r.UnknownApplied, r.UnknownAppliedOnResend, r.UnknownRefused, r.UnknownStill, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range reports {
		fmt.Fprintf(w, "%s run %d: %s\n", r.Kind, r.Run, notes(r))
		if len(r.Problems) > 0 {
			fmt.Fprintf(w, "  problems (first %d):\n    %s\n", len(r.Problems), strings.Join(r.Problems, "\n    "))
		}
	}
	return nil
}

// notes says in a line what the table's columns leave out.
func notes(r Report) string {
	causes := make([]string, 0, len(r.FailedAttempts))
	for cause, n := range r.FailedAttempts {
		causes = append(causes, fmt.Sprintf("%s ×%d", cause, n))
	}
	slices.Sort(causes)
	attempts := "none"
	if len(causes) > 0 {
		attempts = strings.Join(causes, ", ")
	}
	return fmt.Sprintf("%d events on %d aggregates; attempts without an answer: %s; resends answered 409 \"applied earlier\" "+
		"instead of their first reply: %d; topic publishes unknown %d (%d stored); projection consumer unacked at the end %d; "+
		"stale replica reads %d; stray events %d",
		r.Events, r.Aggregates, attempts, r.AppliedEarlier, r.TopicUnknown, r.TopicUnknownStored, r.ProjectionUnacked, r.StaleReads, r.Foreign)
}
