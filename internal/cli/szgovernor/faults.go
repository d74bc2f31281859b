package szgovernor

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func partitionCmd() *cli.Command {
	var oneWay bool
	return remoteCmd(&cli.Command{
		Name:  "partition",
		Args:  "GROUP GROUP [GROUP…]",
		Short: "Cut traffic between groups of processes (members separated by commas)",
		Long: `Every process keeps running; connections between processes of different
groups are blackholed (bytes dropped, connections kept open). Processes not
named keep talking to everyone, so 'partition n1 n3' is a bridge through n2
and 'partition n1 h1' cuts handler h1 from node n1 only. Clients (szctl, the
dashboard, tests) are never cut. A new partition replaces the previous one;
'heal' removes it.

With --one-way exactly two groups are given: bytes from the first to the
second are dropped, the other direction still flows.`,
		MinArgs: 2, MaxArgs: governor.MaxNodes + governor.MaxHandlers,
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			fs.BoolVar(&oneWay, "one-way", false, "drop only the bytes from the first group to the second")
			return nil
		},
	}, func(ctx context.Context, inv *cli.Invocation, r *governor.Remote) error {
		groups := make([][]string, len(inv.Args))
		for i, a := range inv.Args {
			groups[i] = strings.Split(a, ",")
		}
		if oneWay {
			if len(groups) != 2 {
				return inv.Usagef("--one-way takes exactly two groups")
			}
			if err := r.PartitionOneWay(ctx, groups[0], groups[1]); err != nil {
				return err
			}
			inv.Printf("partitioned %s -> %s (one way)\n", inv.Args[0], inv.Args[1])
			return nil
		}
		if err := r.Partition(ctx, groups); err != nil {
			return err
		}
		inv.Printf("partitioned %s\n", strings.Join(inv.Args, " | "))
		return nil
	})
}

func healCmd() *cli.Command {
	return remoteCmd(&cli.Command{Name: "heal", Short: "Remove every partition"},
		func(ctx context.Context, inv *cli.Invocation, r *governor.Remote) error {
			if err := r.Heal(ctx); err != nil {
				return err
			}
			inv.Printf("healed\n")
			return nil
		})
}

func addNodeCmd() *cli.Command {
	return remoteCmd(&cli.Command{Name: "add-node", Short: "Start one more node, joined to the cluster, and wait until it is ready"},
		func(ctx context.Context, inv *cli.Invocation, r *governor.Remote) error {
			id, err := r.AddNode(ctx)
			if err != nil {
				return err
			}
			if inv.JSON() {
				return inv.PrintJSON(map[string]string{"id": id})
			}
			inv.Printf("added %s\n", id)
			return nil
		})
}

func removeNodeCmd() *cli.Command {
	return remoteCmd(&cli.Command{
		Name: "remove-node", Args: "NODE", MinArgs: 1, MaxArgs: 1,
		Short: "Remove a node from the cluster (through another node), then stop it",
	}, func(ctx context.Context, inv *cli.Invocation, r *governor.Remote) error {
		if err := r.RemoveNode(ctx, inv.Args[0]); err != nil {
			return err
		}
		inv.Printf("removed %s\n", inv.Args[0])
		return nil
	})
}
