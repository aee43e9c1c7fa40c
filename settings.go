package jetflow

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jetflow/jetflow/internal/app"
	"github.com/jetflow/jetflow/internal/config"
)

// Settings registers the section [name] of the configuration as the
// application's own, with the keys of T and their defaults, and returns
// the handle its code reads the loaded values from.
//
// T is a struct. Each exported field is a key named by its tag:
// `tsk:"max_lines"`, or `tsk:"api_key,secret"` for a value that
// `jetflow config check` prints as <redacted> unless --show-secrets;
// `tsk:"-"` leaves a field out, and `doc:"..."` says what the key does
// (config check prints it). A field is a string, bool, int, int64,
// float64, time.Duration, []string or []time.Duration.
//
// The section is read like jetflow's own: from [name] in jetflow.tsk,
// from JETFLOW_<NAME>_<KEY> variables, from WithSetting("name.key", …)
// and `config check --set`, with the same file:line:col errors and
// suggestions for a misspelt key or a value of the wrong type. When T
// (or *T) has a method Validate() error, the platform calls it whenever
// it loads the configuration, and reports its errors like its own: a
// *FieldError on its key ("name.key: …"), any other error on the section.
//
// A name that jetflow uses ([events], [nats], …), one registered twice, or
// a T that cannot be a section, is an ErrInvalidRegistration that Run,
// Main and Command report before anything starts.
func Settings[T any](a *App, name string, defaults T) *Section[T] {
	s := &Section[T]{name: name}
	sec := app.Section{
		Section: config.Section{Name: name, Defaults: defaults, Validate: validator[T]()},
		Loaded: func(v any) {
			t := v.(T)
			s.value.Store(&t)
		},
	}
	// Checked with the sections registered before, so that the problem is
	// reported with this registration.
	all := make([]config.Section, 0, len(a.domain.Sections)+1)
	for _, prev := range a.domain.Sections {
		all = append(all, prev.Section)
	}
	if _, err := config.NewSchema(append(all, sec.Section)...); err != nil {
		a.errs = append(a.errs, fmt.Errorf("%w: settings: %w", ErrInvalidRegistration, err))
		return s
	}
	a.domain.Sections = append(a.domain.Sections, sec)
	return s
}

// Section is a section of the configuration registered with Settings.
// It is safe for concurrent use.
type Section[T any] struct {
	name  string
	value atomic.Pointer[T]
}

// Name is the section's name, as its [header] writes it.
func (s *Section[T]) Name() string { return s.name }

// Get returns the section as the configuration of the running platform
// sets it. The configuration is loaded when Run or a command of Main
// starts, after registration and before anything is built: read the
// section in handlers, and in the functions the App calls at start
// (Aggregate's commands, ReadModel's queries, Worker's subscription,
// Component's build). Get panics when called before, as a read at
// registration would silently see the defaults.
func (s *Section[T]) Get() T {
	v := s.value.Load()
	if v == nil {
		panic(fmt.Sprintf("jetflow: settings [%s] read before the configuration was loaded; read them in a handler, "+
			"or in a function the App calls when it starts", s.name))
	}
	return *v
}

// FieldError is a problem with one key of a section registered with
// Settings, for the section's Validate to return (errors.Join several):
// the platform reports it on that key, as "shop.max_lines: …", the way it
// reports a problem with its own keys. errors.As finds it in the error
// Run or the command line returns.
type FieldError struct {
	// Key is the key's name as its tsk tag writes it: "max_lines".
	Key string
	// Err says what is wrong with the value.
	Err error
}

func (e *FieldError) Error() string { return e.Key + ": " + e.message() }

func (e *FieldError) Unwrap() error { return e.Err }

func (e *FieldError) message() string {
	if e.Err == nil {
		return "invalid value"
	}
	return e.Err.Error()
}

// validator returns how the configuration checks a section of type T: its
// Validate method, with each *FieldError turned into the configuration's
// own so that it is reported on its key. nil when T has none.
func validator[T any]() func(v any) error {
	var zero T
	_, byValue := any(zero).(interface{ Validate() error })
	_, byPointer := any(&zero).(interface{ Validate() error })
	if !byValue && !byPointer {
		return nil
	}
	return func(v any) error {
		t := v.(T)
		var err error
		if byValue {
			err = any(t).(interface{ Validate() error }).Validate()
		} else {
			err = any(&t).(interface{ Validate() error }).Validate()
		}
		return keyed(err)
	}
}

// keyed turns each *FieldError in err's joined errors into a
// *config.FieldError with the same key, keeping it reachable.
func keyed(err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, keyed(e))
		}
		return errors.Join(out...)
	}
	if fe, ok := errors.AsType[*FieldError](err); ok {
		return &config.FieldError{Key: fe.Key, Msg: fe.message(), Err: err}
	}
	return err
}
