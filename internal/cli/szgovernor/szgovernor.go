// Package szgovernor implements the szgovernor tool: `up` runs a local
// ScheduleZero cluster (nodes and handlers) in the foreground through a
// governor.ProcessGovernor; every other command acts, from any shell, on
// the cluster recorded in the same --dir (DESIGN.md, "Local cluster:
// szgovernor"). cmd/szgovernor only wires signals and the process
// environment.
package szgovernor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/internal/cli"
)

// DefaultDir is the default --dir.
const DefaultDir = "./sz-local"

// Run runs szgovernor with args (without the program name) and returns the
// process exit code: 0 on success, 1 on failure, 2 on a usage error.
func Run(ctx context.Context, args []string, env cli.Env) int {
	return program().Run(ctx, args, env)
}

func program() *cli.Program {
	return &cli.Program{
		Name: "szgovernor",
		Short: "szgovernor runs a local ScheduleZero cluster (up) and, from any shell, " +
			"inspects it and injects faults into it. --addr does not apply to szgovernor.",
		Commands: []*cli.Command{
			upCmd(), statusCmd(), downCmd(),
			signalCmd("kill", "Kill a process with SIGKILL (the supervisor restarts it after its back-off)",
				"killed", (*governor.Remote).Kill),
			signalCmd("term", "Stop a process with SIGTERM (graceful; the supervisor restarts it)",
				"terminated", (*governor.Remote).Term),
			signalCmd("stop", "Pause a process with SIGSTOP (left alone until cont)", "paused", (*governor.Remote).Pause),
			signalCmd("cont", "Resume a paused process with SIGCONT", "resumed", (*governor.Remote).Resume),
			signalCmd("restart", "Restart a process gracefully with the same data (revives a failed one)",
				"restarted", (*governor.Remote).Restart),
			partitionCmd(), healCmd(), addNodeCmd(), removeNodeCmd(),
		},
	}
}

// dirFlag registers --dir.
func dirFlag(fs *pflag.FlagSet) *string {
	return fs.String("dir", DefaultDir, "governor directory (state.json, logs, node data)")
}

// dial returns the control client of the governor of dir, with a hint
// when there is none.
func dial(dir string) (*governor.Remote, error) {
	r, err := governor.Dial(dir)
	if errors.Is(err, governor.ErrNoGovernor) {
		return nil, fmt.Errorf("no running szgovernor for %s (start one with 'szgovernor up --dir %s')", dir, dir)
	}
	return r, err
}

// remoteCmd is a leaf that talks to the running governor.
func remoteCmd(c *cli.Command, run func(ctx context.Context, inv *cli.Invocation, r *governor.Remote) error) *cli.Command {
	setup := c.SetupFunc
	c.SetupFunc = func(fs *pflag.FlagSet) cli.RunFunc {
		dir := dirFlag(fs)
		if setup != nil {
			setup(fs)
		}
		return func(ctx context.Context, inv *cli.Invocation) error {
			r, err := dial(*dir)
			if err != nil {
				return err
			}
			defer r.Close()
			return run(ctx, inv, r)
		}
	}
	return c
}

func signalCmd(name, short, done string, op func(*governor.Remote, context.Context, string) error) *cli.Command {
	return remoteCmd(&cli.Command{Name: name, Args: "ID", Short: short + " (ID: n1…, h1…)", MinArgs: 1, MaxArgs: 1},
		func(ctx context.Context, inv *cli.Invocation, r *governor.Remote) error {
			if err := op(r, ctx, inv.Args[0]); err != nil {
				return err
			}
			inv.Printf("%s %s\n", done, inv.Args[0])
			return nil
		})
}

// newLogger logs the governor's own events as text to w.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
