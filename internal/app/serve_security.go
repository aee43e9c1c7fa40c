package app

import (
	"log/slog"
	"net"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/platform"
)

// embeddedServer is the embedded server the [server] section describes.
func embeddedServer(cfg config.Config) natsserver.Config {
	return natsserver.Config{
		ConfigFile: cfg.Server.NATSConfig, Listen: cfg.Server.Listen, StoreDir: cfg.Server.StoreDir,
		AllowAnonymous: cfg.Server.InsecureAllowAnonymous,
	}
}

// identityMode is commands.identity as the command service takes it
// (Validate has checked the name).
func identityMode(cfg config.Config) aggregates.IdentityMode {
	m, _ := aggregates.ParseIdentityMode(cfg.Commands.Identity)
	return m
}

// logSecurity says at start how the platform is protected: how NATS
// authenticates clients, where the embedded server listens, and whose user
// id the events record. An anonymous server beyond loopback (possible only
// with server.insecure_allow_anonymous) is a warning every start.
func logSecurity(log *slog.Logger, cfg config.Config, p *platform.Platform) {
	identity := identityMode(cfg)
	if identity == aggregates.IdentityAuto { // as the command service resolves it
		identity = aggregates.IdentityHeader
		if p.Conn.AuthRequired() {
			identity = aggregates.IdentityNATS
		}
	}
	if p.Server == nil {
		auth := "not required by the server"
		if p.Conn.AuthRequired() {
			auth = "required by the server"
		}
		log.Info("security", "nats", "external", "nats_auth", auth, "tls", p.Conn.TLSRequired(), "identity", identityText(identity))
		return
	}
	opts, err := natsserver.Options(embeddedServer(cfg))
	if err != nil {
		return // cannot be: the server started from these options
	}
	attrs := []any{"nats", "embedded", "listen", listenText(p.Server.Addr()), "nats_auth", natsserver.AuthDescription(opts), "identity", identityText(identity)}
	if natsserver.Anonymous(opts) && !natsserver.Loopback(opts) {
		log.Warn("INSECURE: the embedded NATS server accepts anonymous clients beyond loopback (server.insecure_allow_anonymous): "+
			"anyone who reaches it may rewrite or delete the event store", attrs...)
		return
	}
	log.Info("security", attrs...)
}

func listenText(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	tcp, ok := addr.(*net.TCPAddr)
	if ok && tcp.IP.IsUnspecified() {
		return addr.String() + " (every interface)"
	}
	return addr.String()
}

func identityText(m aggregates.IdentityMode) string {
	switch m {
	case aggregates.IdentityNATS:
		return "nats: user ids from the NATS server, client Jetflow-User-Id from other accounts ignored"
	case aggregates.IdentityHeader:
		return "header: user ids as clients send them (unverified)"
	}
	return m.String()
}
