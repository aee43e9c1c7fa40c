package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect jetflow's configuration (jetflow.tsk)",
	}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var (
		sets        []string
		showSecrets bool
	)
	cmd := &cobra.Command{
		Use:   "check [file]",
		Short: "Validate the configuration and print the effective one as TuskLang",
		Long: "Loads the defaults, the file (the argument, else $JETFLOW_CONFIG, else ./jetflow.tsk when\n" +
			"present), the JETFLOW_* environment variables and the --set flags, in that order, validates\n" +
			"the result and prints it as a TuskLang document that loads back to the same configuration\n" +
			"(nats.password is printed as <redacted> unless --show-secrets).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env := os.Environ()
			path := config.DefaultPath(env)
			if len(args) == 1 {
				path = args[0]
			}
			cfg, err := config.Load(path, env)
			if err != nil {
				return err
			}
			for _, kv := range sets {
				key, val, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--set %q: want key=value, e.g. events.replicas=3", kv)
				}
				if err := cfg.Set(key, val); err != nil {
					return fmt.Errorf("--set: %w", err)
				}
			}
			// The file serves the client commands and workers too: an
			// empty nats.url passes serve but leaves them nowhere to go.
			if err := cfg.ValidateClient(); err != nil {
				return err
			}
			source := path
			if source == "" {
				source = "defaults (no file)"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "configuration OK: %s\n", source)
			if !showSecrets {
				cfg = cfg.Redacted()
			}
			return config.Encode(cmd.OutOrStdout(), cfg)
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "set a key over file and environment, e.g. --set events.replicas=3 (repeatable)")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print nats.password instead of <redacted>")
	return cmd
}
