package users

import (
	"fmt"
	"net/mail"
	"regexp"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/streams"
)

// Stable command names: endpoints cmd.user.<name>.
const (
	CommandCreate       = "create"
	CommandUpdate       = "update"
	CommandChangeStatus = "change_status"
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9_.-]{3,32}$`)

// Create is cmd.user.create. When ID is absent the service picks it: a
// UUIDv7, or one derived from the request's Jetflow-Command-Id.
type Create struct {
	ID       string `json:"id,omitempty"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

// Update is cmd.user.update; absent fields stay as they are.
type Update struct {
	ID       string  `json:"id"`
	Username *string `json:"username,omitempty"`
	Email    *string `json:"email,omitempty"`
}

// ChangeStatus is cmd.user.change_status.
type ChangeStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func validateUsername(u string) error {
	if u == "" {
		return aggregates.Invalid("username is required")
	}
	if !usernamePattern.MatchString(u) {
		return aggregates.Invalid("username %q must be 3 to 32 characters of a-z, 0-9, '_', '.' and '-'", u)
	}
	return nil
}

// maxEmailBytes is the longest address SMTP can carry (RFC 5321's path
// limit less its angle brackets).
const maxEmailBytes = 254

func validateEmail(e string) error {
	if e == "" {
		return aggregates.Invalid("email is required")
	}
	if len(e) > maxEmailBytes {
		// Not echoed: it is long by definition.
		return aggregates.Invalid("email is %d bytes, at most %d allowed", len(e), maxEmailBytes)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return aggregates.Invalid("email %q is not a valid address (name@example.com, no display name)", e)
	}
	return nil
}

// Validate checks the command's input.
func (c *Create) Validate() error {
	if err := validateUsername(c.Username); err != nil {
		return err
	}
	return validateEmail(c.Email)
}

// Validate checks the command's input.
func (c *Update) Validate() error {
	if c.Username == nil && c.Email == nil {
		return aggregates.Invalid("nothing to update: send username and/or email")
	}
	if c.Username != nil {
		if err := validateUsername(*c.Username); err != nil {
			return err
		}
	}
	if c.Email != nil {
		return validateEmail(*c.Email)
	}
	return nil
}

// Validate checks the command's input.
func (c *ChangeStatus) Validate() error {
	if !ValidStatus(c.Status) {
		return aggregates.Invalid("status %q must be one of active, inactive, suspended", c.Status)
	}
	return nil
}

// DecideCreate creates a user unless the id is taken.
func DecideCreate(c Create, u *aggregates.Instance[*User]) ([]aggregates.Change, error) {
	if u.Exists() {
		return nil, aggregates.Refused("user %s already exists", c.ID)
	}
	return []aggregates.Change{{Type: EventCreated, Data: Created{ID: c.ID, Username: c.Username, Email: c.Email}}}, nil
}

// DecideUpdate changes username and/or email of an existing user; a field
// equal to the current value is not recorded.
func DecideUpdate(c Update, u *aggregates.Instance[*User]) ([]aggregates.Change, error) {
	if !u.Exists() {
		return nil, aggregates.NotFound("user %s does not exist", c.ID)
	}
	var d Updated
	if c.Username != nil && *c.Username != u.State.Username {
		d.Username = c.Username
	}
	if c.Email != nil && *c.Email != u.State.Email {
		d.Email = c.Email
	}
	if d.Username == nil && d.Email == nil {
		return nil, nil
	}
	return []aggregates.Change{{Type: EventUpdated, Data: d}}, nil
}

// DecideChangeStatus changes the status; the current status is a no-op.
func DecideChangeStatus(c ChangeStatus, u *aggregates.Instance[*User]) ([]aggregates.Change, error) {
	if !u.Exists() {
		return nil, aggregates.NotFound("user %s does not exist", c.ID)
	}
	if u.State.Status == c.Status {
		return nil, nil
	}
	return []aggregates.Change{{Type: EventStatusChanged, Data: StatusChanged{Status: c.Status}}}, nil
}

// RegisterCommands adds the User commands to a command service.
func RegisterCommands(svc *aggregates.Service, repo *aggregates.Repository[*User]) error {
	if repo.Type() != AggregateType {
		return fmt.Errorf("users: repository serves %q, want %q", repo.Type(), AggregateType)
	}
	for _, err := range []error{
		aggregates.Register(svc, repo, aggregates.CommandSpec[*User, Create]{
			Name:        CommandCreate,
			AggregateID: func(c *Create) string { return c.ID },
			AssignID:    func(c *Create, id string) { c.ID = id },
			Decide:      DecideCreate,
		}),
		aggregates.Register(svc, repo, aggregates.CommandSpec[*User, Update]{
			Name: CommandUpdate, AggregateID: func(c *Update) string { return c.ID }, Decide: DecideUpdate,
		}),
		aggregates.Register(svc, repo, aggregates.CommandSpec[*User, ChangeStatus]{
			Name: CommandChangeStatus, AggregateID: func(c *ChangeStatus) string { return c.ID }, Decide: DecideChangeStatus,
		}),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// NewRepository returns the User repository.
func NewRepository(store *streams.Store, snaps *streams.Snapshots, opts ...aggregates.RepositoryOption) (*aggregates.Repository[*User], error) {
	return aggregates.NewRepository(AggregateType, NewUser, store, snaps, opts...)
}
