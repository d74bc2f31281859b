package szgovernor

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func downCmd() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Short: "Stop the governor and every process it started, from any shell",
		Long: `Asks the running governor to stop everything. If it does not answer or
does not finish, it is signalled, and every process recorded in state.json
that still runs its recorded command line is stopped directly (SIGTERM,
then SIGKILL after --grace). Nothing is left behind.`,
		SetupFunc: func(flags *pflag.FlagSet) cli.RunFunc {
			dir := dirFlag(flags)
			grace := flags.Duration("grace", governor.DefaultGracePeriod, "time between SIGTERM and SIGKILL for processes signalled directly")
			return func(ctx context.Context, inv *cli.Invocation) error {
				logger, err := newLogger(inv.Env.Stderr, "warn")
				if err != nil {
					return err
				}
				if _, err := governor.ReadState(*dir); errors.Is(err, fs.ErrNotExist) {
					inv.Printf("nothing to stop in %s\n", *dir)
					return nil
				}
				start := time.Now()
				if err := governor.Down(ctx, *dir, governor.DownOptions{Grace: *grace, Logger: logger}); err != nil {
					return err
				}
				inv.Printf("down: every process of %s is stopped (%s)\n", *dir, time.Since(start).Round(time.Millisecond))
				return nil
			}
		},
	}
}
