package projections

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrInvalidProjection is returned for a projection definition that cannot run.
	ErrInvalidProjection = errors.New("projections: invalid projection")
	// ErrInvalidConfig is returned for an invalid runner or view configuration.
	ErrInvalidConfig = errors.New("projections: invalid configuration")
	// ErrUnknownProjection is returned for a name no projection has.
	ErrUnknownProjection = errors.New("projections: unknown projection")
	// ErrProjectionFailed matches a *FailedError.
	ErrProjectionFailed = errors.New("projections: projection failed")
	// ErrBehind matches a *BehindError.
	ErrBehind = errors.New("projections: read model behind")
	// ErrNotReady is returned by a view that has not loaded its bucket yet.
	ErrNotReady = errors.New("projections: read model not loaded yet")
	// ErrRebuildRunning is returned when another process holds the rebuild.
	ErrRebuildRunning = errors.New("projections: rebuild running elsewhere")
	// ErrLeaseLost is returned when a runner loses its lease on a generation.
	ErrLeaseLost = errors.New("projections: lease lost")
	// ErrSkipRefused matches a *SkipRefusedError.
	ErrSkipRefused = errors.New("projections: skip refused")
)

// Failure names the event a projection stopped at.
type Failure struct {
	Sequence uint64    `json:"sequence"`
	Type     string    `json:"type"`
	Subject  string    `json:"subject,omitempty"`
	Error    string    `json:"error"`
	At       time.Time `json:"at"`
}

// FailedError is returned when a handler keeps failing on an event.
type FailedError struct {
	Projection string
	Failure    Failure
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("projections: %s failed at event %d (%s): %s", e.Projection, e.Failure.Sequence, e.Failure.Type, e.Failure.Error)
}

func (e *FailedError) Is(target error) bool { return target == ErrProjectionFailed }

// BehindError is returned when a read model did not reach a sequence in time.
type BehindError struct {
	Projection string
	Wanted     uint64
	Applied    uint64
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("projections: read model %s has applied stream sequence %d, not yet %d", e.Projection, e.Applied, e.Wanted)
}

func (e *BehindError) Is(target error) bool { return target == ErrBehind }

// SkipRefusedError is returned for a skip of an event the projection is
// not failed at. A skip is only for that event: one asked on a guess
// would drop the event without a trace, at the next rebuild too.
type SkipRefusedError struct {
	Projection string
	// Sequence is the event the skip was asked for.
	Sequence uint64
	// FailedAt is the event the projection is failed at (0: it is not
	// failed) and FailedGeneration the generation that failed there.
	FailedAt         uint64
	FailedGeneration int
	// Rebuild is true when the failed generation is a rebuild's.
	Rebuild bool
	// State and LastApplied are the active generation's last report
	// (State is empty when it never ran).
	State       State
	LastApplied uint64
}

func (e *SkipRefusedError) Error() string {
	if e.FailedAt != 0 {
		where := ""
		if e.Rebuild {
			where = fmt.Sprintf(" (its rebuild, generation %d)", e.FailedGeneration)
		}
		return fmt.Sprintf("projections: %s is failed at event %d%s, not %d", e.Projection, e.FailedAt, where, e.Sequence)
	}
	state := "not started yet"
	if e.State != "" {
		state = fmt.Sprintf("%s at %d", e.State, e.LastApplied)
	}
	return fmt.Sprintf("projections: %s is not failed (%s); a skip is only for the event a projection failed at", e.Projection, state)
}

func (e *SkipRefusedError) Is(target error) bool { return target == ErrSkipRefused }
