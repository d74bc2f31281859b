package trigger

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mustTime parses an RFC 3339 time or fails the test.
func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v
}

// mustCompile compiles spec or fails the test.
func mustCompile(t testing.TB, spec Spec, anchor time.Time) Trigger {
	t.Helper()
	trig, err := Compile(spec, anchor)
	require.NoError(t, err, "spec %+v", spec)
	return trig
}

// fires returns the fire times in (after, until] as RFC 3339 strings in the
// location Next returned them in, at most max of them.
func fires(t testing.TB, trig Trigger, after, until time.Time, max int) []string {
	t.Helper()
	var out []string
	for cur := after; len(out) < max; {
		next, ok := trig.Next(cur)
		if !ok || next.After(until) {
			break
		}
		require.True(t, next.After(cur), "Next(%s) = %s is not after its input", cur, next)
		out = append(out, next.Format(time.RFC3339Nano))
		cur = next
	}
	return out
}
