package app

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetflow/jetflow/internal/config"
)

// Every command reads its configuration one way, loader.load: the file
// (--config, else $JETFLOW_CONFIG, else ./jetflow.tsk when present), then
// the JETFLOW_* variables, then the flags of the command that name a key
// (keyFlags) and that the user gave, then Validate.

// configUsage is the help of --config, the root's persistent flag.
const configUsage = "configuration file: jetflow.tsk, or for worker also a .json of subscriptions (default: $JETFLOW_CONFIG, else ./jetflow.tsk when present)"

// configFlag maps a command-line flag onto a configuration key. Flags are
// strings so that config.Set parses them with the same errors as the file.
type configFlag struct {
	name, key, usage string
}

// annotationKey marks a flag with the configuration key it sets.
const annotationKey = "jetflow_key"

// keyFlags registers each flag on fs with its key's default; its help
// names the key unless it already does.
func keyFlags(fs *pflag.FlagSet, flags ...configFlag) {
	for _, f := range flags {
		usage := f.usage
		if !strings.Contains(usage, f.key) {
			usage += " (" + f.key + ")"
		}
		fs.String(f.name, defaultOf(f.key), usage)
		annotate(fs, f.name, annotationKey, f.key)
	}
}

// hideDefault shows no default in a key flag's help: serve's --nats-url,
// given at all, turns the embedded server off, so a URL shown there would
// read as the server serve uses.
func hideDefault(fs *pflag.FlagSet, name string) {
	fs.Lookup(name).DefValue = ""
}

// defaultOf is the key's default as a flag shows it.
func defaultOf(key string) string {
	for _, k := range config.Keys() {
		if k.Name == key {
			if v, err := strconv.Unquote(k.Default); err == nil {
				return v
			}
			return k.Default
		}
	}
	panic("app: flag for an unknown configuration key " + key) // a bug here, found by every test that builds the commands
}

// flagSettings are the key flags of fs that the user gave.
func flagSettings(fs *pflag.FlagSet) []Setting {
	var set []Setting
	fs.Visit(func(f *pflag.Flag) {
		if key, ok := f.Annotations[annotationKey]; ok {
			set = append(set, Setting{Key: key[0], Value: f.Value.String(), Source: "--" + f.Name})
		}
	})
	return set
}

// loader gives every command its configuration, with the domain's own
// sections.
type loader struct {
	domain *Domain
	// file is --config, the root's persistent flag.
	file string
}

// load returns cmd's validated configuration: the file, JETFLOW_*, then
// cmd's key flags.
func (l *loader) load(cmd *cobra.Command) (config.Config, error) {
	return l.loadFrom(cmd, l.file, nil, config.Config.Validate)
}

// loadFrom is load from file instead of --config ("": $JETFLOW_CONFIG or
// ./jetflow.tsk), with more settings after the flags, checked by validate.
func (l *loader) loadFrom(cmd *cobra.Command, file string, more []Setting, validate func(config.Config) error) (config.Config, error) {
	return l.domain.loadConfig(file, append(embeddedOff(flagSettings(cmd.Flags())), more...), validate)
}

// Setting is one configuration key set by a program or a flag; it wins
// over the file and the environment.
type Setting struct {
	Key, Value string
	// Source names where it came from in errors ("--listen"); errors
	// name the key either way.
	Source string
}

// LoadConfig returns the effective, validated configuration of a program
// running d: settings > JETFLOW_* > the file (file, else $JETFLOW_CONFIG,
// else ./jetflow.tsk when present) > defaults, with d's own sections. A
// setting of nats.url turns the embedded server off, as --nats-url does.
func (d *Domain) LoadConfig(file string, set []Setting) (config.Config, error) {
	return d.loadConfig(file, embeddedOff(set), config.Config.Validate)
}

func (d *Domain) loadConfig(file string, set []Setting, validate func(config.Config) error) (config.Config, error) {
	schema, err := d.schema()
	if err != nil {
		return config.Config{}, err
	}
	env := os.Environ()
	if file == "" {
		file = config.DefaultPath(env)
	}
	cfg, err := schema.Load(file, env)
	if err != nil {
		return cfg, err
	}
	for _, st := range set {
		if err := cfg.Set(st.Key, st.Value); err != nil {
			if st.Source == "" {
				return cfg, err // it names the key
			}
			return cfg, fmt.Errorf("%s: %w", st.Source, err)
		}
	}
	if err := validate(cfg); err != nil {
		return cfg, err
	}
	d.loaded(cfg)
	return cfg, nil
}

// embeddedOff adds server.embedded=false after each nats.url: naming a
// server means connect to it, start none.
func embeddedOff(set []Setting) []Setting {
	var out []Setting
	for _, st := range set {
		out = append(out, st)
		if st.Key == "nats.url" {
			out = append(out, Setting{Key: "server.embedded", Value: "false", Source: st.Source})
		}
	}
	return out
}

// natsOptions turns the [nats] section into client options.
func natsOptions(c config.NATSConfig) []nats.Option {
	var opts []nats.Option
	if c.Credentials != "" {
		opts = append(opts, nats.UserCredentials(c.Credentials))
	}
	if c.NKey != "" {
		if opt, err := nats.NkeyOptionFromSeed(c.NKey); err == nil {
			opts = append(opts, opt)
		} else {
			opts = append(opts, func(*nats.Options) error { return fmt.Errorf("nkey seed %s: %w", c.NKey, err) })
		}
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	return opts
}
