package szctl

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func runsGetCmd() *cli.Command {
	return &cli.Command{
		Name:    "get",
		Args:    "RUN-ID",
		Short:   "Show a run",
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				r, err := c.GetRun(ctx, inv.Args[0])
				if err != nil {
					return notAvailable(err, "runs are")
				}
				if inv.JSON() {
					return inv.PrintJSON(cli.Raw(r.Raw, r))
				}
				result := "-"
				if len(r.Result) > 0 {
					result = string(r.Result)
				}
				t := inv.Table()
				t.Row("ID:", r.ID)
				t.Row("Schedule:", r.ScheduleID)
				t.Row("Status:", r.Status)
				t.Row("Attempt:", r.Attempt)
				t.Row("Nominal at:", cli.Time(&r.NominalAt))
				t.Row("Fired at:", cli.Time(r.FiredAt))
				t.Row("Started at:", cli.Time(r.StartedAt))
				t.Row("Finished at:", cli.Time(r.FinishedAt))
				t.Row("Handler instance:", cli.Dash(r.HandlerInstance))
				t.Row("Result:", result)
				t.Row("Error:", cli.Dash(r.Error))
				return t.Flush()
			}
		},
	}
}
