// Command schedulezero runs one ScheduleZero server node. See DESIGN.md for
// its flags; every flag is also settable as SZ_<FLAG>.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/schedulezero/schedulezero/server"
)

func main() {
	cfg, err := server.ParseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, server.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schedulezero:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "schedulezero:", err)
		os.Exit(1)
	}
}
