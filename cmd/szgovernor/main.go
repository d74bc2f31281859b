// Command szgovernor runs a local ScheduleZero cluster and injects faults
// into it from any shell. See internal/cli/szgovernor and governor/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/internal/cli/szgovernor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills szgovernor at once; Pdeathsig takes its children
	}()
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now}
	code := szgovernor.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
