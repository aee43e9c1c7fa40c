package users

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// ReadModel is the stable name of the users read model: bucket rm_users,
// queries query.users.<name>.
const ReadModel = "users"

// Record is a user as the read model holds and queries return it. Times
// are the events' occurred-at, never the projection's clock, so a rebuild
// produces the same records.
type Record struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version is the aggregate version the record reflects.
	Version uint64 `json:"version"`
}

// Projection is the users projection: every User event, into rm_users,
// one record per user keyed by projections.Key(id).
func Projection(cfg streams.Config) projections.Projection {
	prefix := cfg.SubjectPrefix
	if prefix == "" {
		prefix = streams.DefaultSubjectPrefix
	}
	return projections.Projection{
		Name:     ReadModel,
		Subjects: []string{prefix + "." + AggregateType + ".>"},
		Handler: projections.JSONHandler[Record]{
			KeyOf:  func(ev streams.Event) (string, error) { return projections.Key(ev.AggregateID), nil },
			Evolve: EvolveRecord,
		},
	}
}

// EvolveRecord applies one User event to its record (nil before
// user.created). An event the read model cannot apply is an error: the
// projection stops on it rather than drift from the aggregates.
func EvolveRecord(_ context.Context, ev streams.Event, rec *Record) (*Record, error) {
	if ev.Type != EventCreated && rec == nil {
		return nil, fmt.Errorf("%s for user %s, which has no record (its %s was not applied)", ev.Type, ev.AggregateID, EventCreated)
	}
	switch ev.Type {
	case EventCreated:
		if rec != nil {
			return nil, fmt.Errorf("%s for user %s, which already has a record", ev.Type, ev.AggregateID)
		}
		var d Created
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, fmt.Errorf("%s data: %w", ev.Type, err)
		}
		rec = &Record{ID: ev.AggregateID, Username: d.Username, Email: d.Email, Status: StatusActive, CreatedAt: ev.OccurredAt}
	case EventUpdated:
		var d Updated
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, fmt.Errorf("%s data: %w", ev.Type, err)
		}
		if d.Username != nil {
			rec.Username = *d.Username
		}
		if d.Email != nil {
			rec.Email = *d.Email
		}
	case EventStatusChanged:
		var d StatusChanged
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, fmt.Errorf("%s data: %w", ev.Type, err)
		}
		if !ValidStatus(d.Status) {
			return nil, fmt.Errorf("%s to unknown status %q", ev.Type, d.Status)
		}
		rec.Status = d.Status
	default:
		return nil, fmt.Errorf("users read model: unknown event type %q", ev.Type)
	}
	rec.UpdatedAt, rec.Version = ev.OccurredAt, ev.Version
	return rec, nil
}
