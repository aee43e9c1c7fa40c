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
