package szctl

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func scheduleTriggerCmd() *cli.Command {
	return &cli.Command{
		Name:    "trigger",
		Args:    "ID",
		Short:   "Fire a schedule now, outside its trigger",
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			var requestID string
			fs.StringVar(&requestID, "request-id", "", "idempotency key: retrying with the same key fires at most once")
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				id := inv.Args[0]
				run, err := c.TriggerSchedule(ctx, id, requestID)
				switch {
				case err != nil:
					return notAvailable(err, "manual triggers are")
				case inv.JSON() && run != nil:
					return inv.PrintJSON(cli.Raw(run.Raw, run))
				case inv.JSON():
					return nil
				case run != nil && run.ID != "":
					inv.Printf("triggered schedule %s (run %s)\n", id, run.ID)
				default:
					inv.Printf("triggered schedule %s\n", id)
				}
				return nil
			}
		},
	}
}
