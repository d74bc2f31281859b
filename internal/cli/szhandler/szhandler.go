// Package szhandler implements szhandler, the ready-made example and test
// handler (DESIGN.md, "Handlers"): a handlerclient.Client with the methods
// echo, sleep, fail and noop and an optional fsynced execution journal.
// cmd/szhandler only wires signals and the process environment.
package szhandler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/transport"
)

// Name is the program name used in messages.
const Name = "szhandler"

// Run runs szhandler with args (without the program name) until ctx ends
// (SIGTERM, SIGINT), then drains, and returns the process exit code: 0 on a
// clean stop, 1 on failure, 2 on a usage error.
func Run(ctx context.Context, args []string, env cli.Env) int {
	return run(ctx, args, env, nil)
}

// run is Run with the transport tests replace (nil: ZeroMQ).
func run(ctx context.Context, args []string, env cli.Env, dialer transport.Dialer) int {
	stdout, stderr := orDiscard(env.Stdout), orDiscard(env.Stderr)
	lookup := env.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	f, err := parseFlags(args, lookup, stdout)
	if errors.Is(err, pflag.ErrHelp) {
		return cli.ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s (see '%s --help')\n", Name, err, Name)
		return cli.ExitUsage
	}
	logger, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", Name, err)
		return cli.ExitUsage
	}
	if err := serve(ctx, f, logger, dialer); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", Name, err)
		if errors.Is(err, handlerclient.ErrInvalidConfig) {
			return cli.ExitUsage
		}
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// serve runs the handler until ctx ends.
func serve(ctx context.Context, f *flags, logger *slog.Logger, dialer transport.Dialer) error {
	cfg := handlerclient.Config{
		Name:         f.name,
		Servers:      f.servers,
		Capacity:     f.capacity,
		Token:        f.token,
		Dialer:       dialer,
		Logger:       logger,
		DrainTimeout: f.drainTimeout,
	}
	if f.journal != "" {
		j, err := openJournal(f.journal, handlerclient.Instance())
		if err != nil {
			return err
		}
		defer j.Close()
		cfg.BeforeRunFunc = j.Record
	}
	c, err := handlerclient.New(cfg)
	if err != nil {
		return err
	}
	register(c, clock.Real{})
	return c.Run(ctx)
}

// newLogger returns the process logger: text or JSON on w at level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
