// Command szbench is ScheduleZero's end-to-end benchmark: it starts (or
// targets) a cluster, runs handlers in-process and reports throughput,
// dispatch latency, failover gaps and scale figures. See internal/bench.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/bench"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal stops the run and its processes; a second kills szbench (Pdeathsig takes the nodes)
	}()
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now}
	code := bench.Main(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
