package szcluster

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func joinCmd() *cli.Command {
	return &cli.Command{
		Name:  "join",
		Args:  "MEMBER-HTTP-ADDR",
		Short: "Make the node at --addr join the cluster of a member",
		Long: `The node at --addr asks the leader of MEMBER-HTTP-ADDR's cluster to add it
(first as a non-voter, promoted once caught up), then the members are
listed. This can take several seconds.`,
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				member := inv.Args[0]
				if _, err := client.NormalizeAddr(member); err != nil {
					return inv.Usagef("invalid member address: %s", cli.ErrorText(err))
				}
				c, err := inv.ClientFor(inv.Globals.Addr, client.WithRetry(readRetryBudget))
				if err != nil {
					return err
				}
				if err := c.Join(ctx, member); err != nil {
					return err
				}
				if !inv.JSON() {
					inv.Printf("joined the cluster of %s\n", member)
				}
				ms, err := c.Members(ctx)
				if err != nil {
					return fmt.Errorf("joined, but listing the members failed: %w", err)
				}
				return printMembers(inv, ms)
			}
		},
	}
}
