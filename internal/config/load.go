package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Load builds the configuration from its layers: Default(), then the file
// at path (none when path is ""), then the JETFLOW_* variables of env.
// env ("NAME=value" pairs, usually os.Environ()) also answers @env in the
// file. Load does not validate: apply flags with Set, then call Validate.
func Load(path string, env []string) (Config, error) { return platform.Load(path, env) }

// Load is the package's Load with the schema's sections: the program's
// own are read from the file and JETFLOW_* like the platform's.
func (sc *Schema) Load(path string, env []string) (Config, error) {
	c := sc.Default()
	if path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := c.decode(path, src, env); err != nil {
			return Config{}, err
		}
	}
	if err := c.ApplyEnv(env); err != nil {
		return Config{}, err
	}
	return c, nil
}

// DefaultPath is the file to load when the command line names none:
// $JETFLOW_CONFIG when set, else jetflow.tsk when the working directory
// has one, else "" (defaults and environment only).
func DefaultPath(env []string) string {
	if p, ok := envMap(env)[EnvConfigFile]; ok && p != "" {
		return p
	}
	if _, err := os.Stat(DefaultFile); err == nil || !errors.Is(err, fs.ErrNotExist) {
		// Any error but "missing" is Load's to report.
		return DefaultFile
	}
	return ""
}
