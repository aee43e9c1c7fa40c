package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Every query string and form body the console reads goes through one of
// the parse functions below: each names the parameters it accepts, refuses
// any other (a typo in a hand-written URL is an error, not a silently
// ignored filter) and checks every value before it reaches a library call
// or a subject. They are fuzzed (input_fuzz_test.go).

// ErrInvalidInput matches every problem with a request's parameters.
var ErrInvalidInput = errors.New("console: invalid input")

// InputError is one parameter a request got wrong; the console answers it
// 400 with the message.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

func (e *InputError) Unwrap() error { return ErrInvalidInput }

func inputErr(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Bounds of free-text parameters. maxText matches the command service's
// bound on a header (a command id, a correlation id).
const (
	maxText = 256
	// maxReplayIDs bounds one replay: what a page of dead letters shows.
	maxReplayIDs = 1000
	// maxProjectionName is what config accepts for a projection's name.
	maxProjectionName = 64
)

// fieldCSRF is the CSRF token every form posts; the parsers accept it and
// the guard checks it (auth.go).
const fieldCSRF = "csrf"

// params reads url.Values allowing only the named parameters, each at
// most once unless listed as repeated.
type params struct {
	v        url.Values
	allowed  map[string]bool
	repeated map[string]bool
}

func newParams(v url.Values, allowed []string, repeated ...string) (*params, error) {
	p := &params{v: v, allowed: map[string]bool{}, repeated: map[string]bool{}}
	for _, a := range allowed {
		p.allowed[a] = true
	}
	for _, r := range repeated {
		p.allowed[r], p.repeated[r] = true, true
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(v)) {
		vals := v[name]
		switch {
		case !p.allowed[name]:
			errs = append(errs, inputErr(clip(name), "unknown parameter (this page takes %s)", strings.Join(allowed, ", ")))
		case len(vals) > 1 && !p.repeated[name]:
			errs = append(errs, inputErr(name, "given %d times, at most once allowed", len(vals)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (p *params) get(name string) string { return p.v.Get(name) }

// text returns a free-text parameter: valid UTF-8, no control characters,
// at most maxText bytes, with no blanks around it.
func (p *params) text(name string) (string, error) {
	s := p.get(name)
	switch {
	case len(s) > maxText:
		return "", inputErr(name, "%d bytes, at most %d allowed", len(s), maxText)
	case !utf8.ValidString(s):
		return "", inputErr(name, "not valid UTF-8")
	case wire.HasControl(s):
		return "", inputErr(name, "contains control characters")
	case strings.TrimSpace(s) != s:
		return "", inputErr(name, "%q has blanks around it", s)
	}
	return s, nil
}

// uint returns an optional non-negative integer (0 when absent).
func (p *params) uint(name string) (uint64, error) {
	s := p.get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, inputErr(name, "%q: want a whole number, 0 or more", clip(s))
	}
	return n, nil
}

// positive returns a required positive integer.
func (p *params) positive(name, what string) (uint64, error) {
	s := p.get(name)
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		if s == "" {
			return 0, inputErr(name, "required: %s", what)
		}
		return 0, inputErr(name, "%q: want %s", clip(s), what)
	}
	return n, nil
}

// boolean returns a required "true" or "false".
func (p *params) boolean(name string) (bool, error) {
	switch s := p.get(name); s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, inputErr(name, "%q: want true or false", clip(s))
	}
}

// duration returns an optional non-negative duration ("90s", "2h").
func (p *params) duration(name string) (time.Duration, error) {
	s := p.get(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, inputErr(name, "%q: want a duration such as 30s, 15m or 2h", clip(s))
	}
	return d, nil
}

// clip shortens a value echoed in an error message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// aggregateQuery is what the aggregates page shows: an aggregate's events
// (Type and ID), only those one command wrote (Causation), from a stream
// sequence on (After); or, with no ID, the latest events (of Type).
type aggregateQuery struct {
	Type, ID  string
	Causation string
	After     uint64
}

func parseAggregateQuery(v url.Values) (aggregateQuery, error) {
	p, err := newParams(v, []string{"type", "id", "causation", "after"})
	if err != nil {
		return aggregateQuery{}, err
	}
	var q aggregateQuery
	var errs []error
	q.Type, q.ID = p.get("type"), p.get("id")
	if q.Type != "" {
		if err := streams.ValidateAggregateType(q.Type); err != nil {
			errs = append(errs, inputErr("type", "%v", err))
		}
	}
	if q.ID != "" {
		if q.Type == "" {
			errs = append(errs, inputErr("type", "required with id: an id is unique within its aggregate type"))
		}
		if err := streams.ValidateAggregateID(q.ID); err != nil {
			errs = append(errs, inputErr("id", "%v", err))
		}
	}
	if q.Causation, err = p.text("causation"); err != nil {
		errs = append(errs, err)
	} else if q.Causation != "" && q.ID == "" {
		errs = append(errs, inputErr("causation", "goes with type and id: the events one command wrote to one aggregate"))
	}
	if q.After, err = p.uint("after"); err != nil {
		errs = append(errs, err)
	}
	return q, errors.Join(errs...)
}

// dlqFilter selects dead letters. Topic and Subscription are applied by
// the DLQ's reader (consumers.ListOptions); the others on each dead letter
// it returns.
type dlqFilter struct {
	Topic, Subscription string
	Stream, Consumer    string
	// Subject and Reason match when the original's subject, or the
	// reason, contains them.
	Subject, Reason string
	// MinAge and MaxAge bound how long ago the message was dead-lettered
	// (0: no bound).
	MinAge, MaxAge time.Duration
	// After starts after this dead-letter id (the next page).
	After uint64
}

func parseDLQFilter(v url.Values) (dlqFilter, error) {
	p, err := newParams(v, []string{"topic", "subscription", "stream", "consumer", "subject", "reason", "min_age", "max_age", "after"})
	if err != nil {
		return dlqFilter{}, err
	}
	var f dlqFilter
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	f.Topic = p.get("topic")
	if f.Topic != "" {
		if err := consumers.ValidateTopicName(f.Topic); err != nil {
			errs = append(errs, inputErr("topic", "%v", err))
		}
	}
	for _, t := range []struct {
		name string
		dst  *string
	}{{"subscription", &f.Subscription}, {"stream", &f.Stream}, {"consumer", &f.Consumer}, {"subject", &f.Subject}, {"reason", &f.Reason}} {
		s, err := p.text(t.name)
		add(err)
		*t.dst = s
	}
	f.MinAge, err = p.duration("min_age")
	add(err)
	f.MaxAge, err = p.duration("max_age")
	add(err)
	if f.MaxAge > 0 && f.MinAge > f.MaxAge {
		errs = append(errs, inputErr("max_age", "%s is less than min_age %s: nothing would match", f.MaxAge, f.MinAge))
	}
	f.After, err = p.uint("after")
	add(err)
	return f, errors.Join(errs...)
}

// query is the filter as a query string, for the next page's link.
func (f dlqFilter) query(after uint64) string {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("topic", f.Topic)
	set("subscription", f.Subscription)
	set("stream", f.Stream)
	set("consumer", f.Consumer)
	set("subject", f.Subject)
	set("reason", f.Reason)
	if f.MinAge > 0 {
		v.Set("min_age", f.MinAge.String())
	}
	if f.MaxAge > 0 {
		v.Set("max_age", f.MaxAge.String())
	}
	if after > 0 {
		v.Set("after", strconv.FormatUint(after, 10))
	}
	return v.Encode()
}

// match applies the filters the DLQ's reader does not.
func (f dlqFilter) match(dl consumers.DeadLetter, now time.Time) bool {
	age := now.Sub(dl.Time)
	subject := ""
	if dl.Original != nil {
		subject = dl.Original.Subject
	}
	return (f.Stream == "" || dl.Stream == f.Stream) &&
		(f.Consumer == "" || dl.Consumer == f.Consumer) &&
		(f.Subject == "" || strings.Contains(subject, f.Subject)) &&
		(f.Reason == "" || strings.Contains(strings.ToLower(dl.Reason), strings.ToLower(f.Reason))) &&
		(f.MinAge == 0 || age >= f.MinAge) &&
		(f.MaxAge == 0 || age <= f.MaxAge)
}

// parseDeadLetterID reads the id of one dead letter (show, discard), with
// the CSRF token when it is a form.
func parseDeadLetterID(v url.Values) (uint64, error) {
	p, err := newParams(v, []string{"id", fieldCSRF})
	if err != nil {
		return 0, err
	}
	return p.positive("id", "a dead letter's id, its sequence in the DLQ stream (1, 2, …)")
}

// replayForm replays the dead letters IDs, or, as a dry run, says what it
// would do.
type replayForm struct {
	IDs    []uint64
	DryRun bool
}

func parseReplayForm(v url.Values) (replayForm, error) {
	p, err := newParams(v, []string{"dry_run", fieldCSRF}, "id")
	if err != nil {
		return replayForm{}, err
	}
	var f replayForm
	var errs []error
	if f.DryRun, err = p.boolean("dry_run"); err != nil {
		errs = append(errs, err)
	}
	raw := v["id"]
	switch {
	case len(raw) == 0:
		errs = append(errs, inputErr("id", "required: select at least one dead letter"))
	case len(raw) > maxReplayIDs:
		errs = append(errs, inputErr("id", "%d selected, at most %d at once", len(raw), maxReplayIDs))
	default:
		seen := map[uint64]bool{}
		for _, s := range raw {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil || n == 0 {
				errs = append(errs, inputErr("id", "%q: want a dead letter's id (1, 2, …)", clip(s)))
				continue
			}
			if !seen[n] {
				seen[n] = true
				f.IDs = append(f.IDs, n)
			}
		}
	}
	return f, errors.Join(errs...)
}

// projectionAction is a rebuild, skip or resume of one projection.
type projectionAction struct {
	Name string
	// Seq is the event to skip (skip only).
	Seq uint64
}

// parseProjectionAction reads the form (or, for the confirmation page,
// the query) of action on a projection.
func parseProjectionAction(v url.Values, action string) (projectionAction, error) {
	allowed := []string{"name", fieldCSRF}
	if action == actionSkip {
		allowed = append(allowed, "seq")
	}
	p, err := newParams(v, allowed)
	if err != nil {
		return projectionAction{}, err
	}
	var a projectionAction
	var errs []error
	a.Name = p.get("name")
	if err := checkProjectionName(a.Name); err != nil {
		errs = append(errs, err)
	}
	if action == actionSkip {
		if a.Seq, err = p.positive("seq", "the stream sequence of the event the projection failed at"); err != nil {
			errs = append(errs, err)
		}
	}
	return a, errors.Join(errs...)
}

// checkProjectionName accepts what config accepts as a projection name.
func checkProjectionName(name string) error {
	if name == "" {
		return inputErr("name", "required: a projection's name")
	}
	if len(name) > maxProjectionName {
		return inputErr("name", "%d bytes, at most %d allowed", len(name), maxProjectionName)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '_' || r == '-'))
		if !ok {
			return inputErr("name", "%q: a projection's name is letters, digits, '_' and '-', first a letter or digit", clip(name))
		}
	}
	return nil
}

// commandForm is a command to send from the commands page.
type commandForm struct {
	// Command is "<aggregate type>.<command>".
	Command string
	// Body is the command's JSON, as typed.
	Body string
	// CommandID makes a resend idempotent; the console picks one when
	// empty, so that the events the command wrote can be found by it.
	CommandID string
	// ExpectedVersion, when set, refuses the command unless the aggregate
	// is at that version.
	ExpectedVersion *uint64
}

func parseCommandForm(v url.Values, maxBody int) (commandForm, error) {
	p, err := newParams(v, []string{"command", "body", "command_id", "expected_version", fieldCSRF})
	if err != nil {
		return commandForm{}, err
	}
	var f commandForm
	var errs []error
	f.Command = p.get("command")
	if err := checkCommandName(f.Command); err != nil {
		errs = append(errs, err)
	}
	f.Body = p.get("body")
	switch {
	case strings.TrimSpace(f.Body) == "":
		errs = append(errs, inputErr("body", "required: the command's JSON, e.g. {}"))
	case len(f.Body) > maxBody:
		errs = append(errs, inputErr("body", "%d bytes, at most %d allowed (commands.max_payload)", len(f.Body), maxBody))
	default:
		var raw json.RawMessage
		if err := json.Unmarshal([]byte(f.Body), &raw); err != nil {
			errs = append(errs, inputErr("body", "not valid JSON: %v", err))
		}
	}
	if f.CommandID, err = p.text("command_id"); err != nil {
		errs = append(errs, err)
	}
	if s := p.get("expected_version"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			errs = append(errs, inputErr("expected_version", "%q: want a version, 0 (must not exist yet) or more", clip(s)))
		} else {
			f.ExpectedVersion = &n
		}
	}
	return f, errors.Join(errs...)
}

// checkCommandName accepts "<aggregate type>.<command>" with both parts
// valid subject tokens; whether it is registered is the handler's check.
func checkCommandName(name string) error {
	if name == "" {
		return inputErr("command", "required: choose a command")
	}
	typ, cmd, ok := strings.Cut(name, ".")
	if !ok || strings.Contains(cmd, ".") {
		return inputErr("command", "%q: want <aggregate type>.<command>, e.g. user.create", clip(name))
	}
	if err := errors.Join(streams.ValidateAggregateType(typ), streams.ValidateAggregateType(cmd)); err != nil {
		return inputErr("command", "%q: %v", clip(name), err)
	}
	return nil
}

// loginForm is the token an operator logs in with, and the page to go
// back to.
type loginForm struct {
	Token string
	Next  string
}

func parseLoginForm(v url.Values) (loginForm, error) {
	p, err := newParams(v, []string{"token", "next", fieldCSRF})
	if err != nil {
		return loginForm{}, err
	}
	f := loginForm{Token: p.get("token")}
	var errs []error
	if f.Token == "" {
		errs = append(errs, inputErr("token", "required"))
	} else if len(f.Token) > 4096 {
		errs = append(errs, inputErr("token", "%d bytes, longer than any token", len(f.Token)))
	}
	f.Next, err = parseNext(p.get("next"))
	if err != nil {
		errs = append(errs, err)
	}
	return f, errors.Join(errs...)
}

// parseNext accepts a page of the console to return to after logging in:
// a path under the console's root, never another site ("//evil", a
// scheme) nor a path with dot segments.
func parseNext(s string) (string, error) {
	if s == "" {
		return basePath, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, basePath) ||
		strings.HasPrefix(s, "//") || strings.Contains(s, "\\") || strings.Contains(u.Path, "/..") || wire.HasControl(s) || wire.HasControl(u.Path) || len(s) > 2048 {
		return "", inputErr("next", "%q is not a page of the console", clip(s))
	}
	return u.RequestURI(), nil
}

// processQuery chooses a process manager, and one of its instances.
type processQuery struct {
	Name, ID string
}

// parseProcessQuery reads the processes page's query: name alone lists
// that manager's instances, name and id show one.
func parseProcessQuery(v url.Values) (processQuery, error) {
	p, err := newParams(v, []string{"name", "id"})
	if err != nil {
		return processQuery{}, err
	}
	q := processQuery{Name: p.get("name"), ID: p.get("id")}
	var errs []error
	if q.Name != "" {
		if err := processes.ValidateName(q.Name); err != nil {
			errs = append(errs, inputErr("name", "%v", err))
		}
	}
	if q.ID != "" {
		if q.Name == "" {
			errs = append(errs, inputErr("name", "required with id: an instance id is unique within its process manager"))
		}
		if err := processes.ValidateInstanceID(q.ID); err != nil {
			errs = append(errs, inputErr("id", "%v", err))
		}
	}
	return q, errors.Join(errs...)
}
