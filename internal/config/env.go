package config

import (
	"errors"
	"fmt"
	"strings"
)

const (
	// EnvPrefix starts every environment variable jetflow reads:
	// JETFLOW_<SECTION>_<KEY>, or JETFLOW_<SECTION>_<NAME>_<KEY> for a named entry.
	EnvPrefix = "JETFLOW_"
	// EnvConfigFile names the configuration file when the command line names none.
	EnvConfigFile = EnvPrefix + "CONFIG"
)

// EnvName is the environment variable of a dotted key:
// events.replicas → JETFLOW_EVENTS_REPLICAS. A '-' in an entry name
// becomes '_', since shells cannot name a variable with '-'.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// ApplyEnv applies every JETFLOW_* variable of env ("NAME=value" pairs,
// as os.Environ returns them) with Set, in order. A JETFLOW_* variable
// that names no setting is an error, so a typo does not go unnoticed;
// JETFLOW_CONFIG is the file's path and is skipped here.
func (c *Config) ApplyEnv(env []string) error {
	var errs []error
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvConfigFile {
			continue
		}
		key, err := c.envKey(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.Set(key, val); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// envKey maps a variable name to a dotted key. Names and keys both contain
// '_', so a named entry's variable is split where a key of that section
// ends it; an entry that already exists (from the file) is preferred, then
// the longest key.
func (c *Config) envKey(name string) (string, error) {
	rest := strings.ToUpper(strings.TrimPrefix(name, EnvPrefix))
	var near []string
	for _, sec := range c.spec().sections {
		prefix := strings.ToUpper(sec.name) + "_"
		if !sec.named {
			for _, k := range sec.keys {
				if rest == prefix+strings.ToUpper(k.name) {
					return sec.name + "." + k.name, nil
				}
				near = append(near, EnvPrefix+prefix+strings.ToUpper(k.name))
			}
			continue
		}
		tail, ok := strings.CutPrefix(rest, prefix)
		if !ok {
			continue
		}
		if key, ok := c.envEntryKey(sec, tail); ok {
			return key, nil
		}
		// Suggest a key for every place the entry name could end.
		for i := range len(tail) {
			if tail[i] != '_' {
				continue
			}
			for _, k := range sec.keys {
				near = append(near, EnvPrefix+prefix+tail[:i]+"_"+strings.ToUpper(k.name))
			}
		}
	}
	msg := "unknown variable"
	if s := nearest(EnvPrefix+rest, near); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return "", &FieldError{Key: name, Msg: msg, Err: ErrUnknownKey}
}

func (c *Config) envEntryKey(sec sectionSpec, tail string) (string, bool) {
	var (
		found         string
		foundKeyLen   int
		foundExisting bool
	)
	for _, k := range sec.keys {
		entry, ok := strings.CutSuffix(tail, "_"+strings.ToUpper(k.name))
		if !ok || entry == "" {
			continue
		}
		name, existing := strings.ToLower(entry), false
		for _, e := range sec.entries(*c) {
			if strings.EqualFold(strings.ReplaceAll(e, "-", "_"), entry) {
				name, existing = e, true
				break
			}
		}
		if found == "" || existing && !foundExisting || existing == foundExisting && len(k.name) > foundKeyLen {
			found, foundKeyLen, foundExisting = sec.name+"."+name+"."+k.name, len(k.name), existing
		}
	}
	return found, found != ""
}
