package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
)

func newConfigCmd(l *loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect jetflow's configuration (jetflow.tsk)",
	}
	cmd.AddCommand(newConfigCheckCmd(l))
	return cmd
}

func newConfigCheckCmd(l *loader) *cobra.Command {
	var (
		sets        []string
		showSecrets bool
	)
	cmd := &cobra.Command{
		Use:   "check [file]",
		Short: "Validate the configuration and print the effective one as TuskLang",
		Long: "Loads the defaults, the file (the argument or --config, else $JETFLOW_CONFIG, else ./jetflow.tsk\n" +
			"when present), the JETFLOW_* environment variables and the --set flags, in that order, validates\n" +
			"the result and prints it as a TuskLang document that loads back to the same configuration\n" +
			"(nats.password, webhook secrets and header values, and the secret keys of the app's own sections are\n" +
			"printed as <redacted>, and passwords and query values of URLs as xxxxx, unless --show-secrets).\n" +
			"The app's own sections are printed with each key's meaning, default and variable.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := l.file
			if len(args) == 1 {
				if path != "" && path != args[0] {
					return fmt.Errorf("two files: %s (the argument) and %s (--config); give one", args[0], path)
				}
				path = args[0]
			}
			if path == "" {
				path = config.DefaultPath(os.Environ())
			}
			var set []Setting
			for _, kv := range sets {
				key, val, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--set %q: want key=value, e.g. events.replicas=3", kv)
				}
				set = append(set, Setting{Key: key, Value: val, Source: "--set"})
			}
			// The file serves the client commands and workers too: an
			// empty nats.url passes serve but leaves them nowhere to go.
			cfg, err := l.loadFrom(cmd, path, set, config.Config.ValidateClient)
			if err != nil {
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
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print nats.password, webhook secrets, URLs' passwords and tokens (and the app's secret keys) as they are")
	return cmd
}
