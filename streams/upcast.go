package streams

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrUpcast is returned when an upcaster fails or the chain is broken.
var ErrUpcast = errors.New("streams: upcast failed")

// Upcaster turns the data of an event of one schema version into the next
// version's shape.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

type upcastKey struct {
	eventType string
	schema    int
}

// Upcasters holds upcasters by (event type, schema version). Register them
// at start-up, before the store reads; reads are then safe concurrently.
type Upcasters struct {
	byKey map[upcastKey]Upcaster
}

// NewUpcasters returns an empty set.
func NewUpcasters() *Upcasters { return &Upcasters{byKey: map[upcastKey]Upcaster{}} }

// Register adds the upcaster that turns eventType's schema fromSchema into
// fromSchema+1. Event types are stable wire names such as "user.created".
func (u *Upcasters) Register(eventType string, fromSchema int, fn Upcaster) error {
	k := upcastKey{eventType, fromSchema}
	switch {
	case eventType == "":
		return fmt.Errorf("%w: event type must not be empty", ErrUpcast)
	case fromSchema < 1:
		return fmt.Errorf("%w: %s schema %d: schemas start at 1", ErrUpcast, eventType, fromSchema)
	case fn == nil:
		return fmt.Errorf("%w: %s schema %d: nil upcaster", ErrUpcast, eventType, fromSchema)
	}
	if _, dup := u.byKey[k]; dup {
		return fmt.Errorf("%w: %s schema %d has an upcaster already", ErrUpcast, eventType, fromSchema)
	}
	u.byKey[k] = fn
	return nil
}

// Apply upcasts ev in place through every registered step.
func (u *Upcasters) Apply(ev *Event) error {
	for {
		fn, ok := u.byKey[upcastKey{ev.Type, ev.Schema}]
		if !ok {
			return nil
		}
		data, err := fn(ev.Data)
		if err != nil {
			return fmt.Errorf("%w: %s schema %d (event %s): %w", ErrUpcast, ev.Type, ev.Schema, ev.ID, err)
		}
		if !json.Valid(data) {
			return fmt.Errorf("%w: %s schema %d (event %s): upcaster returned invalid JSON", ErrUpcast, ev.Type, ev.Schema, ev.ID)
		}
		ev.Data = data
		ev.Schema++
	}
}
