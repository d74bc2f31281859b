package szctl

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func scheduleUpdateCmd() *cli.Command {
	return &cli.Command{
		Name:  "update",
		Args:  "ID",
		Short: "Change a schedule",
		Long: `Fetch the schedule, apply the flags given and write it back, conditional on
the fetched version (If-Match): a concurrent change makes the update fail
instead of being overwritten. With -f FILE the file's schedule replaces the
stored one (conditional on the file's "version" when it has one).`,
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			f := registerScheduleFlags(fs, false)
			return func(ctx context.Context, inv *cli.Invocation) error {
				id := inv.Args[0]
				if f.file == "" && !f.changedAny() {
					return inv.Usagef("nothing to update: give the fields to change as flags, or -f FILE")
				}
				if err := f.parse(); err != nil {
					return inv.Usagef("%s", err.Error())
				}
				c, err := inv.Client()
				if err != nil {
					return err
				}
				s, err := updateBase(ctx, inv, c, f, id)
				if err != nil {
					return err
				}
				ifVersion := s.Version
				if err := f.apply(s); err != nil {
					return inv.Usagef("%s", err.Error())
				}
				updated, err := c.UpdateSchedule(ctx, s, ifVersion)
				if err != nil {
					return err
				}
				return printSchedule(inv, updated)
			}
		},
	}
}

// updateBase is the schedule the flags apply to: the -f file, or the
// stored schedule.
func updateBase(ctx context.Context, inv *cli.Invocation, c *client.Client, f *scheduleFlags, id string) (*client.Schedule, error) {
	if f.file == "" {
		return c.GetSchedule(ctx, id)
	}
	s, err := f.readFile(inv)
	if err != nil {
		return nil, err
	}
	switch s.ID {
	case "":
		s.ID = id
	case id:
	default:
		return nil, inv.Usagef("the file is for schedule %q, not %q", s.ID, id)
	}
	return s, nil
}
