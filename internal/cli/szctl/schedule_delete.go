package szctl

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func scheduleDeleteCmd() *cli.Command {
	return &cli.Command{
		Name:    "delete",
		Args:    "ID",
		Short:   "Delete a schedule",
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				if err := c.DeleteSchedule(ctx, inv.Args[0]); err != nil {
					return err
				}
				if !inv.JSON() {
					inv.Printf("deleted schedule %s\n", inv.Args[0])
				}
				return nil
			}
		},
	}
}
