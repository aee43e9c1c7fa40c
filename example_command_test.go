package jetflow_test

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow"
)

// A program's own subcommand beside jetflow's (serve, send, query,
// events, projections, dlq…), all over the same registered domain. The
// task domain is the one of ExampleNew.
func ExampleApp_Command() {
	app := jetflow.New()
	jetflow.Aggregate(app, "task", func() *Task { return &Task{} }, TaskCommands)
	jetflow.ReadModel(app, "tasks", TaskProjection, NewTitles, TaskQueries)

	root := app.Command()
	root.AddCommand(&cobra.Command{
		Use:   "greet <name>",
		Short: "Greet someone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "hello, %s\n", args[0])
			return nil
		},
	})

	// A main executes it with the program's arguments (os.Args[1:]) and a
	// context that ends on SIGINT or SIGTERM, and exits 1 on an error.
	root.SetArgs([]string{"greet", "ada"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// hello, ada
}
