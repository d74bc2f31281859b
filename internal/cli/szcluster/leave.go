package szcluster

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func leaveCmd() *cli.Command {
	return &cli.Command{
		Name:  "leave",
		Short: "Make the node at --addr leave its cluster gracefully",
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				if err := c.Leave(ctx); err != nil {
					return err
				}
				if !inv.JSON() {
					inv.Printf("node at %s left the cluster\n", c.Addr())
				}
				return nil
			}
		},
	}
}
