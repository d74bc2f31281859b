package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	require.Equal(t, "-", cli.Age(nil, now))
	require.Equal(t, "-", cli.Age(&time.Time{}, now))
	require.Equal(t, "0s", cli.Age(at(-time.Second), now), "future times count as now")
	require.Equal(t, "250ms", cli.Age(at(250*time.Millisecond+300*time.Microsecond), now))
	require.Equal(t, "12.3s", cli.Age(at(12345*time.Millisecond), now))
	require.Equal(t, "3m20s", cli.Age(at(200400*time.Millisecond), now))
}

func TestTime(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	ts := time.Date(2026, 11, 28, 2, 30, 0, 0, berlin)
	require.Equal(t, "2026-11-28T01:30:00Z", cli.Time(&ts))
	require.Equal(t, "-", cli.Time(nil))
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	require.Equal(t, "bad cron (field: trigger.cron)",
		cli.ErrorText(fmt.Errorf("wrapped: %w", &client.APIError{Status: 400, Message: "bad cron", Field: "trigger.cron"})))
	require.Equal(t, "not found", cli.ErrorText(&client.APIError{Status: 404}))
	require.Equal(t, "cannot reach http://h:1: refused",
		cli.ErrorText(&url.Error{Op: "Get", URL: "http://h:1/v1/x?y=1", Err: errors.New("refused")}))
	require.Equal(t, "empty id", cli.ErrorText(client.ErrEmptyID))
	require.Equal(t, "two lines", cli.ErrorText(errors.New("two\n  lines")))
}

func TestProgram_Run(t *testing.T) {
	t.Parallel()
	var got cli.Globals
	var gotArgs []string
	p := &cli.Program{
		Name: "tool",
		Commands: []*cli.Command{{
			Name: "do", Args: "[X]", MaxArgs: 1,
			SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
				fail := fs.Bool("fail", false, "fail")
				return func(_ context.Context, inv *cli.Invocation) error {
					got, gotArgs = inv.Globals, inv.Args
					if *fail {
						return errors.New("it failed")
					}
					return nil
				}
			},
		}},
	}
	// A zero Env is usable: nil fields get harmless defaults.
	require.Equal(t, cli.ExitOK, p.Run(context.Background(), []string{"do", "x"}, cli.Env{}))
	require.Equal(t, cli.Globals{Addr: cli.DefaultAddr, Output: cli.OutputTable}, got)
	require.Equal(t, []string{"x"}, gotArgs)

	var stderr bytes.Buffer
	env := cli.Env{Stderr: &stderr, LookupEnv: func(k string) (string, bool) { return map[string]string{"SZ_ADDR": " h:2 "}[k], true }}
	require.Equal(t, cli.ExitOK, p.Run(context.Background(), []string{"-o", "json", "do"}, env))
	require.Equal(t, cli.Globals{Addr: "h:2", Output: cli.OutputJSON}, got)

	require.Equal(t, cli.ExitFailure, p.Run(context.Background(), []string{"do", "--fail"}, env))
	require.Equal(t, "tool: it failed\n", stderr.String())
	stderr.Reset()
	require.Equal(t, cli.ExitUsage, p.Run(context.Background(), []string{"do", "a", "b"}, env))
	require.Equal(t, "tool: too many arguments: want [X] (see 'tool do --help')\n", stderr.String())
}
