package szctl_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client/clienttest"
)

func TestAddr(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("GET /v1/schedules/x", clienttest.JSON(200, `{"id":"x"}`))
	hostPort := strings.TrimPrefix(srv.URL, "http://")

	for name, iv := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"HostPort":      {args: []string{"--addr", hostPort}},
		"HTTPPrefix":    {args: []string{"--addr", srv.URL + "/"}},
		"Env":           {env: map[string]string{"SZ_ADDR": hostPort}},
		"EnvWithScheme": {env: map[string]string{"SZ_ADDR": srv.URL}},
		"FlagBeatsEnv":  {env: map[string]string{"SZ_ADDR": "127.0.0.1:1"}, args: []string{"--addr", hostPort}},
		"FlagAfterCmd":  {env: map[string]string{"SZ_ADDR": "127.0.0.1:1"}, args: []string{"schedule", "--addr", hostPort}},
	} {
		args := iv.args
		if len(args) == 0 || args[0] != "schedule" {
			args = append(args, "schedule")
		}
		r := invocation{Env: iv.env}.run(t, append(args, "get", "x", "-o", "json")...)
		require.Equal(t, 0, r.Code, "%s: %s", name, r.Stderr)
		require.JSONEq(t, `{"id":"x"}`, r.Stdout, name)
	}

	r := invocation{}.run(t, "--addr", "ftp://x:1", "schedule", "get", "x")
	requireFail(t, r, 2, `szctl: invalid --addr: invalid address "ftp://x:1": scheme must be http or https (see 'szctl --help')`)
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(nil)
	addr := srv.URL
	srv.Close()
	r := invocation{}.run(t, "--addr", addr, "schedule", "list")
	require.Equal(t, 1, r.Code)
	require.True(t, strings.HasPrefix(r.Stderr, "szctl: cannot reach "+addr+": "), r.Stderr)
	require.Equal(t, 1, strings.Count(r.Stderr, "\n"))
}

func TestInterrupted(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := invocation{Ctx: ctx}.run(t, "--addr", srv.URL, "schedule", "list")
	requireFail(t, r, 130, "szctl: interrupted")
}

func TestHelpAndUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"schedule", "--help"}, {"schedule", "help"}, {"schedule", "create", "--help"},
		{"schedule", "list", "-h"}, {"schedule", "get", "--help"}, {"schedule", "update", "--help"},
		{"schedule", "pause", "--help"}, {"schedule", "resume", "--help"}, {"schedule", "trigger", "--help"},
		{"schedule", "delete", "--help"}, {"runs", "list", "--help"}, {"runs", "get", "--help"}, {"handlers", "list", "--help"},
	} {
		r := invocation{}.run(t, args...)
		requireOK(t, r)
		require.True(t, strings.HasPrefix(r.Stdout, "Usage: szctl"), "%v: %s", args, r.Stdout)
		require.Contains(t, r.Stdout, "--addr")
	}
	r := invocation{}.run(t, "schedule", "create", "--help")
	require.Contains(t, r.Stdout, "Usage: szctl schedule create [flags]")
	require.Contains(t, r.Stdout, "--catchup-window duration")

	requireFail(t, invocation{}.run(t), 2, "szctl: missing command (see 'szctl --help')")
	requireFail(t, invocation{}.run(t, "jobs"), 2, `szctl: unknown command "jobs" (see 'szctl --help')`)
	requireFail(t, invocation{}.run(t, "schedule", "frob"), 2, `szctl: unknown command "frob" (see 'szctl schedule --help')`)
	requireFail(t, invocation{}.run(t, "-o", "yaml", "schedule", "list"), 2, `szctl: invalid value "yaml" for -o/--output: want table or json (see 'szctl --help')`)
	requireFail(t, invocation{}.run(t, "schedule", "list", "--limit", "x"), 2,
		`szctl: invalid argument "x" for "--limit" flag: strconv.ParseInt: parsing "x": invalid syntax (see 'szctl schedule list --help')`)
}
