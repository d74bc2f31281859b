package szctl

import (
	"context"
	"encoding/json"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func handlersListCmd() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Short: "List registered handler instances",
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				hs, err := c.ListHandlers(ctx)
				if err != nil {
					return notAvailable(err, "handlers are")
				}
				if inv.JSON() {
					raw := make([]json.RawMessage, len(hs))
					for i := range hs {
						raw[i] = cli.Raw(hs[i].Raw, &hs[i])
					}
					return inv.PrintJSON(struct {
						Handlers []json.RawMessage `json:"handlers"`
					}{raw})
				}
				now := inv.Env.Now()
				t := inv.Table()
				t.Row("NAME", "INSTANCE", "STATE", "CAPACITY", "IN-FLIGHT", "LAST-SEEN")
				for _, h := range hs {
					t.Row(h.Name, h.Instance, h.State, h.Capacity, h.InFlight, cli.Age(h.LastSeen, now))
				}
				return t.Flush()
			}
		},
	}
}
