package wire

// CommandReply is the JSON body of a successful command reply.
type CommandReply struct {
	AggregateID string `json:"aggregate_id"`
	// Version is the aggregate's version after the command.
	Version uint64 `json:"version"`
	// Sequence is the stream sequence of the last event written: a query's
	// min_sequence to read this write.
	Sequence uint64 `json:"sequence"`
	// Duplicate marks a resend answered from the first run of its
	// Jetflow-Command-Id: nothing was written for it.
	Duplicate bool `json:"duplicate,omitempty"`
}
