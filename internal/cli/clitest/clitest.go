// Package clitest runs the tools built on package cli in tests: fixed
// clock, captured output, scripted environment and stdin.
package clitest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/internal/cli"
)

// Now is the wall clock every run sees.
var Now = time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)

// RunFunc is a tool's entry point (szctl.Run, szcluster.Run).
type RunFunc func(ctx context.Context, args []string, env cli.Env) int

// Result is the outcome of one run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Invocation describes one run beyond its arguments.
type Invocation struct {
	// Env is the process environment (SZ_ADDR, …).
	Env   map[string]string
	Stdin string
	// Ctx defaults to context.Background().
	Ctx context.Context
}

// Run runs the tool with args.
func (iv Invocation) Run(t testing.TB, run RunFunc, args ...string) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := cli.Env{
		Stdin:  strings.NewReader(iv.Stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		LookupEnv: func(k string) (string, bool) {
			v, ok := iv.Env[k]
			return v, ok
		},
		Now: func() time.Time { return Now },
	}
	ctx := iv.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := run(ctx, args, env)
	return Result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}

// RequireOK checks a successful run with nothing on stderr.
func RequireOK(t testing.TB, r Result) {
	t.Helper()
	require.Equal(t, cli.ExitOK, r.Code, "stderr: %s", r.Stderr)
	require.Empty(t, r.Stderr)
}

// RequireFail checks a failed run: its exit code and its one-line error.
func RequireFail(t testing.TB, r Result, code int, line string) {
	t.Helper()
	require.Equal(t, code, r.Code, "stdout: %s", r.Stdout)
	require.Equal(t, line+"\n", r.Stderr)
}
