package szcluster

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func snapshotRestoreCmd() *cli.Command {
	return &cli.Command{
		Name:    "restore",
		Args:    "FILE",
		Short:   "Replace the cluster state with the snapshot in FILE",
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				path := inv.Args[0]
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				c, err := inv.Client()
				if err != nil {
					return err
				}
				if err := c.SnapshotRestore(ctx, f); err != nil {
					return err
				}
				if !inv.JSON() {
					inv.Printf("restored snapshot from %s\n", path)
				}
				return nil
			}
		},
	}
}
