// Command szhandler is the ready-made example and test handler: it
// registers echo, sleep, fail and noop with a ScheduleZero cluster. See
// internal/cli/szhandler and handlerclient/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/internal/cli/szhandler"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // SIGTERM drains; a second signal kills at once
	}()
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now}
	code := szhandler.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
