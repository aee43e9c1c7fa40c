package app

import (
	"fmt"
	"os"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
)

// configFlag maps a command-line flag onto a configuration key. Flags are
// strings so that config.Set parses them with the same errors as the file.
type configFlag struct {
	name, key, usage string
}

// settings loads jetflow.tsk and the environment, then applies the flags the
// user set: flags > JETFLOW_* > file > defaults.
type settings struct {
	file   string
	values map[string]*string
	flags  []configFlag
}

func (s *settings) register(cmd *cobra.Command, flags ...configFlag) {
	s.flags = flags
	s.values = map[string]*string{}
	cmd.Flags().StringVar(&s.file, "config", "", "configuration file (default: $JETFLOW_CONFIG, else ./jetflow.tsk when present)")
	for _, f := range flags {
		v := new(string)
		s.values[f.name] = v
		def := defaultOf(f.key)
		if f.key == "nats.url" {
			// Given at all, it turns the embedded server off (load): a
			// default shown here would read as the server serve uses.
			def = ""
		}
		cmd.Flags().StringVar(v, f.name, def, f.usage+" ("+f.key+")")
	}
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
	return ""
}

// load returns the effective, validated configuration.
func (s *settings) load(cmd *cobra.Command) (config.Config, error) {
	var set []Setting
	for _, f := range s.flags {
		if cmd.Flags().Changed(f.name) {
			set = append(set, Setting{Key: f.key, Value: *s.values[f.name], Source: "--" + f.name})
		}
	}
	return LoadConfig(s.file, set)
}

// Setting is one configuration key set by a program or a flag; it wins
// over the file and the environment.
type Setting struct {
	Key, Value string
	// Source names where it came from in errors ("--listen"); errors
	// name the key either way.
	Source string
}

// LoadConfig returns the effective, validated configuration: settings >
// JETFLOW_* > the file (file, else $JETFLOW_CONFIG, else ./jetflow.tsk
// when present) > defaults.
func LoadConfig(file string, set []Setting) (config.Config, error) {
	env := os.Environ()
	if file == "" {
		file = config.DefaultPath(env)
	}
	cfg, err := config.Load(file, env)
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
		if st.Key == "nats.url" {
			// Naming a server means: connect to it, start none.
			if err := cfg.Set("server.embedded", "false"); err != nil {
				return cfg, err
			}
		}
	}
	return cfg, cfg.Validate()
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
