package users

// AggregateType is the stable wire name of the User aggregate.
const AggregateType = "user"

// Stable event type names; never derived from Go type names.
const (
	EventCreated       = "user.created"
	EventUpdated       = "user.updated"
	EventStatusChanged = "user.status_changed"
)

// Statuses a user can have.
const (
	StatusActive    = "active"
	StatusInactive  = "inactive"
	StatusSuspended = "suspended"
)

// ValidStatus reports whether s is a known status.
func ValidStatus(s string) bool {
	return s == StatusActive || s == StatusInactive || s == StatusSuspended
}

// Created is the data of user.created.
type Created struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

// Updated is the data of user.updated; absent fields did not change.
type Updated struct {
	Username *string `json:"username,omitempty"`
	Email    *string `json:"email,omitempty"`
}

// StatusChanged is the data of user.status_changed.
type StatusChanged struct {
	Status string `json:"status"`
}
