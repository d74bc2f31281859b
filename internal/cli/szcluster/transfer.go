package szcluster

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func transferCmd() *cli.Command {
	return &cli.Command{
		Name:    "transfer-leadership",
		Args:    "[NODE-ID]",
		Short:   "Hand leadership to a member, or to any up-to-date voter",
		MinArgs: 0, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				id := ""
				if len(inv.Args) == 1 {
					id = inv.Args[0]
				}
				c, err := inv.Client()
				if err != nil {
					return err
				}
				if err := c.TransferLeadership(ctx, id); err != nil {
					return err
				}
				switch {
				case inv.JSON():
				case id != "":
					inv.Printf("leadership transferred to %s\n", id)
				default:
					inv.Printf("leadership transferred\n")
				}
				return nil
			}
		},
	}
}
