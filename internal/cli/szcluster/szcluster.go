// Package szcluster implements the szcluster tool: cluster membership,
// leadership, health and snapshots through the HTTP API of any node
// (DESIGN.md, "Cluster operations: szcluster").
package szcluster

import (
	"context"
	"time"

	"github.com/schedulezero/schedulezero/internal/cli"
)

// readRetryBudget is how long listing members waits out an election.
const readRetryBudget = 5 * time.Second

// Run runs szcluster with args (without the program name) and returns the
// process exit code: 0 on success, 1 on failure, 2 on a usage error.
func Run(ctx context.Context, args []string, env cli.Env) int {
	return program().Run(ctx, args, env)
}

func program() *cli.Program {
	return &cli.Program{
		Name:  "szcluster",
		Short: "szcluster operates a ScheduleZero cluster through any member's HTTP address.",
		Commands: []*cli.Command{
			joinCmd(), membersCmd(), leaveCmd(), removeCmd(), transferCmd(), statusCmd(),
			{
				Name:  "snapshot",
				Short: "Save or restore the cluster state",
				Sub:   []*cli.Command{snapshotSaveCmd(), snapshotRestoreCmd()},
			},
		},
	}
}
