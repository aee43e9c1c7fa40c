package natsserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Sync is JetStream's fsync policy, nats.conf's jetstream.sync_interval.
// By default the server acknowledges a write once the operating system
// has it and fsyncs every 2 minutes: a crash of the process loses
// nothing, a crash of the machine (power, kernel) may lose what was
// acknowledged since the last fsync.
type Sync struct {
	// Always fsyncs every write before it is acknowledged.
	Always bool
	// Interval fsyncs on this period instead of the server's.
	Interval time.Duration
}

// String is the policy as server.sync_interval spells it: "always", a
// duration, or "" for the server's default.
func (s Sync) String() string {
	switch {
	case s.Always:
		return "always"
	case s.Interval > 0:
		return s.Interval.String()
	}
	return ""
}

// apply sets the policy on opts; the zero value leaves them alone.
func (s Sync) apply(opts *server.Options) {
	switch {
	case s.Always:
		opts.SyncAlways = true
	case s.Interval > 0:
		opts.SyncAlways, opts.SyncInterval = false, s.Interval
	}
}

// ErrInvalidSync matches a policy ParseSync cannot read.
var ErrInvalidSync = errors.New("invalid sync interval")

// ParseSync reads a policy: "" (the server's default, or the config
// file's), "always", or a positive duration such as "10s".
func ParseSync(s string) (Sync, error) {
	switch s {
	case "":
		return Sync{}, nil
	case "always":
		return Sync{Always: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return Sync{}, fmt.Errorf("%w %q: want \"always\", a positive duration such as \"10s\", or empty for the server's default (2m)", ErrInvalidSync, s)
	}
	return Sync{Interval: d}, nil
}
