// Command szcluster operates a ScheduleZero cluster (join, leave, members,
// leadership, status, snapshots) through any member's HTTP address. See
// internal/cli/szcluster.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/internal/cli/szcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now}
	code := szcluster.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
