package szctl

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func scheduleListCmd() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Short: "List schedules",
		Long: `List schedules. By default every page is fetched (--all); --all=false shows
one page of --limit schedules and reports the cursor of the next one.`,
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			var opts client.ListOptions
			all := true
			fs.BoolVar(&opts.Stale, "stale", false, "let the node answer from its local state (no read through the leader)")
			fs.IntVar(&opts.Limit, "limit", 0, "page size (0: the server's default)")
			fs.StringVar(&opts.Cursor, "cursor", "", "start at this cursor (from a previous --all=false listing)")
			fs.BoolVar(&all, "all", true, "follow next_cursor through every page")
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				page := &client.SchedulePage{}
				if all {
					page.Schedules, err = c.ListAllSchedules(ctx, opts)
				} else {
					page, err = c.ListSchedules(ctx, opts)
				}
				if err != nil {
					return err
				}
				return printScheduleList(inv, page)
			}
		},
	}
}

func printScheduleList(inv *cli.Invocation, page *client.SchedulePage) error {
	if inv.JSON() {
		raw := make([]json.RawMessage, len(page.Schedules))
		for i := range page.Schedules {
			raw[i] = cli.Raw(page.Schedules[i].Raw, &page.Schedules[i])
		}
		return inv.PrintJSON(struct {
			Schedules  []json.RawMessage `json:"schedules"`
			NextCursor string            `json:"next_cursor"`
		}{raw, page.NextCursor})
	}
	t := inv.Table()
	t.Row("ID", "HANDLER", "METHOD", "TRIGGER", "NEXT FIRE", "PAUSED", "VERSION")
	for _, s := range page.Schedules {
		t.Row(s.ID, s.Handler, s.Method, triggerText(s.Trigger), cli.Time(s.NextFireAt), s.Paused, s.Version)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(inv.Env.Stderr, "more schedules: --cursor %s\n", page.NextCursor)
	}
	return nil
}
