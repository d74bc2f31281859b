package szctl

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

// pauseFunc calls PauseSchedule or ResumeSchedule.
type pauseFunc func(ctx context.Context, c *client.Client, id string) (*client.Schedule, error)

func schedulePauseCmd() *cli.Command {
	return pauseCmd("pause", "Pause a schedule: it stops firing until resumed", "paused",
		func(ctx context.Context, c *client.Client, id string) (*client.Schedule, error) {
			return c.PauseSchedule(ctx, id)
		})
}

func scheduleResumeCmd() *cli.Command {
	return pauseCmd("resume", "Resume a paused schedule", "resumed",
		func(ctx context.Context, c *client.Client, id string) (*client.Schedule, error) {
			return c.ResumeSchedule(ctx, id)
		})
}

func pauseCmd(name, short, done string, call pauseFunc) *cli.Command {
	return &cli.Command{
		Name:    name,
		Args:    "ID",
		Short:   short,
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				id := inv.Args[0]
				s, err := call(ctx, c, id)
				switch {
				case err != nil:
					return err
				case inv.JSON() && s != nil:
					return inv.PrintJSON(cli.Raw(s.Raw, s))
				case inv.JSON():
					return nil
				case s != nil:
					inv.Printf("%s schedule %s (version %d)\n", done, id, s.Version)
				default:
					inv.Printf("%s schedule %s\n", done, id)
				}
				return nil
			}
		},
	}
}
