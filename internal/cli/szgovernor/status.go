package szgovernor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func statusCmd() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Short: "Show the governor and every process (from state.json when the governor is gone)",
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			dir := dirFlag(fs)
			return func(ctx context.Context, inv *cli.Invocation) error {
				st, live, err := governor.StatusOf(ctx, *dir)
				if err != nil {
					return noState(*dir, err)
				}
				if inv.JSON() {
					return inv.PrintJSON(st)
				}
				printStatus(inv, st, live)
				return nil
			}
		},
	}
}

func noState(dir string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no governor state in %s (start a cluster with 'szgovernor up --dir %s')", dir, dir)
	}
	return err
}

func printStatus(inv *cli.Invocation, st governor.Status, live bool) {
	g := st.Governor
	switch {
	case live:
		inv.Printf("governor pid %d %s, control %s, dir %s\n", g.PID, g.State, g.ControlAddr, g.Dir)
	default:
		inv.Printf("governor %s (pid %d); processes as recorded in state.json, checked in /proc\n", g.State, g.PID)
	}
	tw := inv.Table()
	tw.Row("ID", "PID", "STATE", "HTTP", "RAFT", "ZMQ", "RESTARTS", "LAST EXIT")
	for _, p := range st.Nodes {
		tw.Row(p.ID, pid(p.PID), p.State, cli.Dash(p.HTTPAddr), cli.Dash(p.RaftAddr), cli.Dash(p.ZMQAddr), p.Restarts, cli.Dash(p.LastExit))
	}
	for _, p := range st.Handlers {
		tw.Row(p.ID, pid(p.PID), p.State, "-", "-", "-", p.Restarts, cli.Dash(p.LastExit))
	}
	_ = tw.Flush()
	if len(st.Blocked) > 0 {
		pairs := make([]string, len(st.Blocked))
		for i, b := range st.Blocked {
			pairs[i] = b[0] + "->" + b[1]
		}
		inv.Printf("blocked: %s\n", strings.Join(pairs, " "))
	}
}

func pid(p int) string {
	if p == 0 {
		return "-"
	}
	return strconv.Itoa(p)
}
