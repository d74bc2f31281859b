package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

// Main runs szbench with args (without the program name) and returns the
// process exit code: 0 when every scenario ran, 1 when one failed, 2 on a
// usage error, 130 when interrupted. Progress goes to env.Stderr; the
// summary to env.Stdout, or with -o json the JSON report to env.Stdout and
// the summary to env.Stderr.
func Main(ctx context.Context, args []string, env cli.Env) int {
	stdout, stderr := orDiscard(env.Stdout), orDiscard(env.Stderr)
	cfg, err := ParseFlags(args, stdout)
	if errors.Is(err, pflag.ErrHelp) {
		return cli.ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s (see '%s --help')\n", Name, err, Name)
		return cli.ExitUsage
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", Name, err)
		return cli.ExitUsage
	}
	rep, runErr := r.Run(ctx)
	summary, data := stdout, io.Writer(nil)
	if r.Config().Output == OutputJSON {
		summary, data = stderr, stdout
	}
	if err := rep.WriteText(summary); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", Name, err)
	}
	if data != nil {
		if err := rep.WriteJSON(data); err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", Name, err)
			return cli.ExitFailure
		}
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "%s: interrupted\n", Name)
		return cli.ExitInterrupted
	case runErr != nil:
		fmt.Fprintf(stderr, "%s: %s\n", Name, runErr)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
