// Package szctl implements the szctl tool: schedules, runs and handlers
// through the HTTP API of any node (DESIGN.md, "Jobs: szctl").
package szctl

import (
	"context"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

// readRetryBudget is how long reads wait out an election (503 no_leader).
const readRetryBudget = 5 * time.Second

// Run runs szctl with args (without the program name) and returns the
// process exit code: 0 on success, 1 on failure, 2 on a usage error.
func Run(ctx context.Context, args []string, env cli.Env) int {
	return program().Run(ctx, args, env)
}

func program() *cli.Program {
	return &cli.Program{
		Name:          "szctl",
		Short:         "szctl manages ScheduleZero schedules, runs and handlers.",
		ClientOptions: []client.Option{client.WithRetry(readRetryBudget)},
		Commands: []*cli.Command{
			{
				Name:  "schedule",
				Short: "Create, list, inspect, change and fire schedules",
				Sub: []*cli.Command{
					scheduleCreateCmd(), scheduleListCmd(), scheduleGetCmd(), scheduleUpdateCmd(),
					schedulePauseCmd(), scheduleResumeCmd(), scheduleTriggerCmd(), scheduleDeleteCmd(),
				},
			},
			{
				Name:  "runs",
				Short: "List and inspect runs (executions of schedules)",
				Sub:   []*cli.Command{runsListCmd(), runsGetCmd()},
			},
			{
				Name:  "handlers",
				Short: "List registered handler instances",
				Sub:   []*cli.Command{handlersListCmd()},
			},
		},
	}
}
