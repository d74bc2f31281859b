package szcluster

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func membersCmd() *cli.Command {
	return &cli.Command{
		Name:  "members",
		Short: "List the cluster members",
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.ClientFor(inv.Globals.Addr, client.WithRetry(readRetryBudget))
				if err != nil {
					return err
				}
				ms, err := c.Members(ctx)
				if err != nil {
					return err
				}
				return printMembers(inv, ms)
			}
		},
	}
}

// printMembers prints the members as {"members":[…]} with -o json, as a
// table otherwise.
func printMembers(inv *cli.Invocation, ms []client.Member) error {
	if inv.JSON() {
		raw := make([]json.RawMessage, len(ms))
		for i := range ms {
			raw[i] = cli.Raw(ms[i].Raw, &ms[i])
		}
		return inv.PrintJSON(struct {
			Members []json.RawMessage `json:"members"`
		}{raw})
	}
	now := inv.Env.Now()
	t := inv.Table()
	t.Row("ID", "HTTP", "RAFT", "ZMQ", "SUFFRAGE", "LEADER", "LAST-CONTACT", "APPLIED")
	for _, m := range ms {
		t.Row(m.ID, cli.Dash(m.HTTPAddr), cli.Dash(m.RaftAddr), cli.Dash(m.ZMQAddr), m.Suffrage,
			cli.YesNo(m.Leader), cli.Age(m.LastContact, now), index(m.AppliedIndex))
	}
	return t.Flush()
}

// index formats a Raft index, "-" when unknown (0).
func index(i uint64) string {
	if i == 0 {
		return "-"
	}
	return strconv.FormatUint(i, 10)
}
