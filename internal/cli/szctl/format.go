package szctl

import (
	"errors"
	"strconv"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/trigger"
)

// printSchedule prints one schedule: the API's JSON with -o json, a
// field list otherwise.
func printSchedule(inv *cli.Invocation, s *client.Schedule) error {
	if inv.JSON() {
		return inv.PrintJSON(cli.Raw(s.Raw, s))
	}
	maxRuns := strconv.Itoa(s.MaxRuns)
	if s.MaxRuns == 0 {
		maxRuns = "0 (unlimited)"
	}
	params := "-"
	if len(s.Params) > 0 {
		params = string(s.Params)
	}
	t := inv.Table()
	t.Row("ID:", s.ID)
	t.Row("Handler:", s.Handler)
	t.Row("Method:", s.Method)
	t.Row("Params:", params)
	t.Row("Trigger:", triggerText(s.Trigger))
	t.Row("Next fire:", cli.Time(s.NextFireAt))
	t.Row("Paused:", s.Paused)
	t.Row("Overlap:", cli.Dash(s.Policy.Overlap))
	t.Row("Catch-up window:", s.Policy.CatchupWindow)
	t.Row("Max retries:", s.Policy.MaxRetries)
	t.Row("Retry backoff:", s.Policy.RetryBackoff)
	t.Row("Timeout:", s.Policy.Timeout)
	t.Row("Jitter:", s.Policy.Jitter)
	t.Row("Start at:", cli.Time(s.StartAt))
	t.Row("End at:", cli.Time(s.EndAt))
	t.Row("Max runs:", maxRuns)
	t.Row("Version:", s.Version)
	t.Row("Created:", cli.Time(&s.CreatedAt))
	t.Row("Updated:", cli.Time(&s.UpdatedAt))
	return t.Flush()
}

// triggerText is the one-cell form of a trigger: "cron 0 30 2 * * *
// (Europe/Berlin)", "every 5m", "at 2026-11-28T01:30:00Z".
func triggerText(sp trigger.Spec) string {
	switch sp.Kind() {
	case "cron":
		if sp.Timezone != "" {
			return "cron " + sp.Cron + " (" + sp.Timezone + ")"
		}
		return "cron " + sp.Cron
	case "every":
		return "every " + sp.Every
	case "at":
		return "at " + sp.At
	}
	return "-"
}

// notAvailable turns a 501 from an endpoint the server does not serve yet
// into the tool's message for it.
func notAvailable(err error, what string) error {
	if client.IsNotImplemented(err) {
		return errors.New(what + " not yet available on this server")
	}
	return err
}
