// Command szctl manages ScheduleZero schedules, runs and handlers through
// the HTTP API of any node. See internal/cli/szctl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/internal/cli/szctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now}
	code := szctl.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
