package users

import (
	"encoding/json"
	"fmt"

	"github.com/jetflow/jetflow/streams"
)

// User is the state of the User aggregate. The repository tracks its
// version and position; User only evolves from events.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Status   string `json:"status"`
}

// NewUser returns the state of a user that does not exist yet.
func NewUser() *User { return &User{} }

// Apply evolves the user by one event.
func (u *User) Apply(ev streams.Event) error {
	switch ev.Type {
	case EventCreated:
		var d Created
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return fmt.Errorf("%s: %w", ev.Type, err)
		}
		u.ID, u.Username, u.Email, u.Status = d.ID, d.Username, d.Email, StatusActive
	case EventUpdated:
		var d Updated
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return fmt.Errorf("%s: %w", ev.Type, err)
		}
		if d.Username != nil {
			u.Username = *d.Username
		}
		if d.Email != nil {
			u.Email = *d.Email
		}
	case EventStatusChanged:
		var d StatusChanged
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return fmt.Errorf("%s: %w", ev.Type, err)
		}
		u.Status = d.Status
	default:
		return fmt.Errorf("users: unknown event type %q", ev.Type)
	}
	return nil
}
