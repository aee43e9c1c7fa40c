package app

import (
	"log/slog"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/console"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/internal/platform"
)

// consoleParts are the web console's members of serve's group and the URL
// it answers on.
type consoleParts struct {
	members []member
	url     string
}

// newConsole builds the web console when [console] enables it: mounted at
// /ui/ on the metrics (or health) server listening on its address, or on
// a server of its own. It reads and acts with the configuration serve
// runs with, as the CLI's commands do with the same file, so that a
// console action reaches what its CLI counterpart reaches.
func newConsole(p *platform.Platform, cfg config.Config, d *Domain, log *slog.Logger, registry prometheus.Gatherer,
	commands *aggregates.Service, checks []observability.Check, endpoints []*observability.Server) (consoleParts, error) {
	if !cfg.Console.Enabled {
		return consoleParts{}, nil
	}
	addr := cfg.ConsoleListen()
	info := console.NATSInfo{Embedded: p.Server != nil, URL: platform.RedactURLs(cfg.NATS.URL)}
	if p.Server != nil {
		info.URL, info.ServerName, info.ServerVersion = p.Server.ClientURL(), p.Server.Name(), server.VERSION
	}
	dlqStream := ""
	if cfg.DLQ.Enabled {
		dlqStream = cfg.DLQ.Stream
	}
	cchecks := make([]console.Check, 0, len(checks))
	for _, c := range checks {
		cchecks = append(cchecks, console.Check{Name: c.Name, Check: c.Check})
	}
	ui, err := console.New(console.Config{Token: cfg.Console.Token, Loopback: config.ListenIsLoopback(addr)}, console.Deps{
		Conn: p.Conn, JetStream: p.JS, Store: p.Store, Snapshots: p.Snapshots, Commands: commands,
		CommandPrefix: cfg.Commands.SubjectPrefix, CommandTimeout: cfg.Commands.Timeout, MaxCommandBody: cfg.Commands.MaxPayload,
		Projections: readModels(cfg, d), ProjectionsConfig: projectionsConfig(cfg),
		Processes: consoleProcesses(cfg, d),
		DLQStream: dlqStream, Gatherer: registry, Checks: cchecks, NATS: info, Logger: log,
	})
	if err != nil {
		return consoleParts{}, err
	}
	parts := consoleParts{members: []member{{"console", ui}}}
	if srv := endpointOn(cfg, endpoints, addr); srv != nil {
		srv.Handle("/ui/", ui.Handler())
		parts.url = "http://" + srv.Addr() + "/ui/"
	} else {
		srv, err := console.NewServer(addr, ui.Handler(), log)
		if err != nil {
			return consoleParts{}, err
		}
		parts.members = append(parts.members, member{"console " + srv.Addr(), srv})
		parts.url = "http://" + srv.Addr() + "/ui/"
	}
	log.Info("web console", "url", parts.url, "token", cfg.Console.Token != "")
	return parts, nil
}

// endpointOn returns the metrics or health server listening on addr, as
// configured (newEndpoints builds them in this order), or nil.
func endpointOn(cfg config.Config, endpoints []*observability.Server, addr string) *observability.Server {
	var configured []string
	for _, a := range []string{cfg.Metrics.Listen, cfg.HealthListen()} {
		if a != "" && (len(configured) == 0 || configured[0] != a) {
			configured = append(configured, a)
		}
	}
	for i, a := range configured {
		if strings.EqualFold(a, addr) && i < len(endpoints) {
			return endpoints[i]
		}
	}
	return nil
}

// consoleProcesses are the registered process managers with the buckets
// their configuration gives them.
func consoleProcesses(cfg config.Config, d *Domain) []console.ProcessInfo {
	var out []console.ProcessInfo
	for _, p := range d.processes() {
		out = append(out, console.ProcessInfo{Name: p.Name, Bucket: cfg.Process(p.Name).Bucket})
	}
	return out
}
