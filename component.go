package jetflow

import (
	"fmt"

	"github.com/jetflow/jetflow/internal/app"
	"github.com/jetflow/jetflow/lifecycle"
)

// Component registers a long-running part of the domain's own — an HTTP
// API, a poller, a worker built by hand — that serve runs with the
// platform's parts: build is called once serve is connected, the
// component starts after the workers and stops before them, and when it
// ends on its own (Done, Err) serve stops every other part and Run (or
// the command line) returns its error. lifecycle.Func turns a function
// that works until its context ends into a Component.
func (a *App) Component(name string, build func(rt Runtime) (lifecycle.Component, error)) {
	if build == nil {
		a.errs = append(a.errs, fmt.Errorf("%w: component %q has no builder", ErrInvalidRegistration, name))
		return
	}
	a.domain.Components = append(a.domain.Components, app.Component{Name: name, Build: func(rt app.Runtime) (lifecycle.Component, error) {
		return build(publicRuntime(rt))
	}})
}
