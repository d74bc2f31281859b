package szcluster

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func removeCmd() *cli.Command {
	return &cli.Command{
		Name:    "remove",
		Args:    "NODE-ID",
		Short:   "Forcibly remove a (dead) member from the cluster",
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				if err := c.RemoveMember(ctx, inv.Args[0]); err != nil {
					return err
				}
				if !inv.JSON() {
					inv.Printf("removed member %s\n", inv.Args[0])
				}
				return nil
			}
		},
	}
}
