package app

import (
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/metrics"
	"github.com/jetflow/jetflow/processes"
)

// Process is a process manager a domain registered (jetflow.Process).
type Process struct {
	Name string
	// New builds its manager on nc with cfg (from [processes.<name>] and
	// the platform's layout) and opts (logger, metrics, dead-letter
	// queue); it checks nothing else.
	New func(nc *nats.Conn, cfg processes.Config, opts ...processes.Option) (lifecycle.Component, error)
}

func (d *Domain) processes() []Process {
	if d == nil {
		return nil
	}
	return d.Processes
}

// processConfig is the configuration serve gives the manager name.
func processConfig(cfg config.Config, name string) processes.Config {
	pc := cfg.Process(name)
	return processes.Config{
		Events: streamsConfig(cfg), CommandPrefix: cfg.Commands.SubjectPrefix,
		Bucket: pc.Bucket, DeadlineTopic: pc.DeadlineTopic, Replicas: cfg.Events.Replicas,
		KeepEnded: pc.KeepEnded, RememberEnded: pc.RememberEnded,
		MaxRetries: pc.MaxRetries, Backoff: pc.Backoff, Concurrency: pc.Concurrency,
		CommandTimeout: cfg.Commands.Timeout,
	}
}

// newProcesses builds a manager per registered process, each a member of
// serve's group (it starts after the command service it sends to).
func newProcesses(p *platform.Platform, cfg config.Config, d *Domain, log *slog.Logger, m *metrics.Prometheus) ([]member, error) {
	var out []member
	for _, reg := range d.processes() {
		wopts := []consumers.WorkerOption{consumers.WithMetrics(m)}
		if cfg.DLQ.Enabled {
			wopts = append(wopts, consumers.WithDLQ(consumers.DLQConfig{Stream: cfg.DLQ.Stream, Retention: cfg.DLQ.Retention, Replicas: cfg.DLQ.Replicas}))
		} else {
			wopts = append(wopts, consumers.WithoutDLQ())
		}
		mgr, err := reg.New(p.Conn, processConfig(cfg, reg.Name),
			processes.WithLogger(log), processes.WithMetrics(m), processes.WithWorkerOptions(wopts...))
		if err == nil && mgr == nil {
			err = fmt.Errorf("built no manager")
		}
		if err != nil {
			return nil, fmt.Errorf("process %s: %w", reg.Name, err)
		}
		out = append(out, member{"process " + reg.Name, mgr})
	}
	return out, nil
}
