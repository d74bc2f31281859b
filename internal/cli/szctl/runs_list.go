package szctl

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func runsListCmd() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Short: "List runs, newest first",
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			var opts client.RunListOptions
			fs.StringVar(&opts.ScheduleID, "schedule-id", "", "only runs of this schedule")
			fs.StringVar(&opts.Status, "status", "", "only runs in this status (fired, running, succeeded, failed, lost, skipped, missed, cancelled)")
			fs.IntVar(&opts.Limit, "limit", 0, "at most this many runs (0: the server's default)")
			fs.StringVar(&opts.Cursor, "cursor", "", "continue from a previous listing's cursor")
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				page, err := c.ListRuns(ctx, opts)
				if err != nil {
					return notAvailable(err, "runs are")
				}
				return printRunList(inv, page)
			}
		},
	}
}

func printRunList(inv *cli.Invocation, page *client.RunPage) error {
	if inv.JSON() {
		raw := make([]json.RawMessage, len(page.Runs))
		for i := range page.Runs {
			raw[i] = cli.Raw(page.Runs[i].Raw, &page.Runs[i])
		}
		return inv.PrintJSON(struct {
			Runs       []json.RawMessage `json:"runs"`
			NextCursor string            `json:"next_cursor"`
		}{raw, page.NextCursor})
	}
	t := inv.Table()
	t.Row("ID", "SCHEDULE", "NOMINAL", "ATTEMPT", "STATUS", "INSTANCE", "FINISHED")
	for _, r := range page.Runs {
		t.Row(r.ID, r.ScheduleID, cli.Time(&r.NominalAt), r.Attempt, r.Status, cli.Dash(r.HandlerInstance), cli.Time(r.FinishedAt))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(inv.Env.Stderr, "more runs: --cursor %s\n", page.NextCursor)
	}
	return nil
}
