package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrNotReady is returned when a started server does not accept connections in time.
var ErrNotReady = errors.New("natsserver: server did not become ready")

// Config describes an embedded server. Zero values mean: loopback host, a
// random port, JetStream on with the store in StoreDir.
type Config struct {
	// ConfigFile is a nats.conf to load first; the fields below override it when set.
	ConfigFile string
	// Listen is host:port for clients; port 0 or -1 picks a free port.
	Listen string
	// StoreDir is where JetStream keeps its files. Required unless the config file sets it.
	StoreDir string
	// ServerName names the server; required in a cluster.
	ServerName string
	// Cluster joins a cluster when its Name is set.
	Cluster ClusterConfig
	// ReadyTimeout bounds the wait for the server to accept connections (default 10s).
	ReadyTimeout time.Duration
	// Logger receives the server's log lines; nil keeps the server silent.
	Logger *slog.Logger
	// Debug forwards the server's debug lines too.
	Debug bool
	// MaxPayload is the largest message the server accepts; 0 keeps the
	// config file's value, or DefaultMaxPayload without a file.
	MaxPayload int32
	// AllowAnonymous lets a server without authentication listen on an
	// address other than loopback (server.insecure_allow_anonymous);
	// without it Options refuses that with ErrAnonymousNetwork.
	AllowAnonymous bool
	// Sync is when JetStream fsyncs what it acknowledged (sync.go); the
	// zero value keeps the config file's sync_interval, or the server's
	// default (every 2 minutes) without a file.
	Sync Sync
}

// DefaultMaxPayload lets oversized requests reach jetflow's services, which
// refuse them with a clear error (413) instead of a client-side failure.
const DefaultMaxPayload = 8 << 20

// ClusterConfig is the route configuration of one node in a cluster.
type ClusterConfig struct {
	Name   string
	Listen string   // host:port for routes
	Routes []string // nats-route://host:port of every node, this one included
}

// Options turns cfg into server options without starting anything.
func Options(cfg Config) (*server.Options, error) {
	opts := &server.Options{}
	if cfg.ConfigFile != "" {
		loaded, err := server.ProcessConfigFile(cfg.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("natsserver: load %s: %w", cfg.ConfigFile, err)
		}
		opts = loaded
	} else {
		opts.Host = "127.0.0.1"
		opts.Port = -1
		opts.MaxPayload = DefaultMaxPayload
	}
	if cfg.MaxPayload > 0 {
		opts.MaxPayload = cfg.MaxPayload
	}
	opts.JetStream = true
	opts.NoSigs = true
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsserver: listen address %q: %w", cfg.Listen, err)
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.StoreDir != "" {
		opts.StoreDir = cfg.StoreDir
	}
	if opts.StoreDir == "" {
		return nil, errors.New("natsserver: a JetStream store dir is required")
	}
	if cfg.ServerName != "" {
		opts.ServerName = cfg.ServerName
	}
	if cfg.Cluster.Name != "" {
		host, port, err := splitHostPort(cfg.Cluster.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsserver: cluster listen address %q: %w", cfg.Cluster.Listen, err)
		}
		opts.Cluster.Name = cfg.Cluster.Name
		opts.Cluster.Host, opts.Cluster.Port = host, port
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Cluster.Routes, ","))
	}
	if cfg.Debug {
		opts.Debug = true
	}
	if err := checkAuth(opts, cfg.AllowAnonymous); err != nil {
		return nil, err
	}
	cfg.Sync.apply(opts)
	return opts, nil
}

// Start starts a server from cfg and waits until it accepts connections.
func Start(cfg Config) (*server.Server, error) {
	opts, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	return StartWithOptions(opts, cfg.Logger, cfg.ReadyTimeout)
}

// StartWithOptions starts a server from ready-made options, for callers that
// adjust options Config does not cover (such as rewritten cluster ports).
func StartWithOptions(opts *server.Options, logger *slog.Logger, ready time.Duration) (*server.Server, error) {
	opts.NoSigs = true
	// Taken before the server opens a file of the store, held until it has
	// shut down (see storelock.go).
	lock, err := lockStore(opts.StoreDir)
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		lock.unlock()
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Always installed: it is where the server says why it cannot start.
	log := &slogAdapter{l: logger}
	s.SetLoggerV2(log, opts.Debug, opts.Trace, false)
	go s.Start()
	if ready <= 0 {
		ready = 10 * time.Second
	}
	deadline := time.Now().Add(ready)
	for !s.ReadyForConnections(readyPoll) {
		if msg := log.firstFatal(); msg != "" {
			shutdownAndUnlock(s, lock)
			return nil, fmt.Errorf("natsserver: cannot start on %s (store %q): %s", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)), opts.StoreDir, msg)
		}
		if time.Now().After(deadline) {
			shutdownAndUnlock(s, lock)
			return nil, fmt.Errorf("%w within %s (listening on %s)", ErrNotReady, ready, net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))
		}
	}
	hold(s, lock)
	return s, nil
}

func shutdownAndUnlock(s *server.Server, lock *storeLock) {
	s.Shutdown()
	s.WaitForShutdown()
	lock.unlock()
}

// readyPoll is how often a start checks for a fatal error while it waits.
const readyPoll = 50 * time.Millisecond

// Stop shuts the server down and waits until it has, and until its store
// dir is free for the next server. A server shut down another way frees its
// store dir a moment after it has shut down.
func Stop(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
	releaseFor(s)
}

func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", portStr)
	}
	if port == 0 {
		port = -1
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}
