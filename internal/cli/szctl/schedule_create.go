package szctl

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/internal/cli"
)

func scheduleCreateCmd() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Short: "Create a schedule",
		Long: `Create a schedule from flags, or from a JSON schedule object with -f FILE
(-f - reads stdin); flags given with -f override the file's fields. Policy
fields left out get the server defaults.

Example:
  szctl schedule create --id nightly-report --handler reports --method generate \
    --params '{"format":"pdf"}' --cron '0 30 2 * * *' --timezone Europe/Berlin`,
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			f := registerScheduleFlags(fs, true)
			return func(ctx context.Context, inv *cli.Invocation) error {
				if err := f.parse(); err != nil {
					return inv.Usagef("%s", err.Error())
				}
				s := newSchedule()
				if f.file != "" {
					var err error
					if s, err = f.readFile(inv); err != nil {
						return err
					}
				}
				if err := f.apply(s); err != nil {
					return inv.Usagef("%s", err.Error())
				}
				c, err := inv.Client()
				if err != nil {
					return err
				}
				created, err := c.CreateSchedule(ctx, s)
				if err != nil {
					return err
				}
				return printSchedule(inv, created)
			}
		},
	}
}
