package szctl

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func scheduleGetCmd() *cli.Command {
	return &cli.Command{
		Name:    "get",
		Args:    "ID",
		Short:   "Show a schedule",
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				s, err := c.GetSchedule(ctx, inv.Args[0])
				if err != nil {
					return err
				}
				return printSchedule(inv, s)
			}
		},
	}
}
