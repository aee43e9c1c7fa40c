package app

import (
	"fmt"

	"github.com/jetflow/jetflow/internal/config"
)

// Section is a configuration section of the domain's own ([shop]), read
// from the file, JETFLOW_* and settings and validated with the platform's.
type Section struct {
	config.Section
	// Loaded receives the section's value (of the type of Defaults) each
	// time a configuration has been loaded and validated, before anything
	// is built from it.
	Loaded func(v any)
}

// schema is the platform's sections and the domain's own.
func (d *Domain) schema() (*config.Schema, error) {
	if d == nil {
		return config.NewSchema()
	}
	extra := make([]config.Section, len(d.Sections))
	for i, s := range d.Sections {
		extra[i] = s.Section
	}
	sc, err := config.NewSchema(extra...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDomain, err)
	}
	return sc, nil
}

// loaded hands each of the domain's sections its value in cfg.
func (d *Domain) loaded(cfg config.Config) {
	if d == nil {
		return
	}
	for _, s := range d.Sections {
		if v, ok := cfg.Section(s.Name); ok && s.Loaded != nil {
			s.Loaded(v)
		}
	}
}
