package trigger

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current implementation")

// goldenCases is the fixed table behind testdata/next.golden. Each entry
// lists the next goldenN fire times after `after`. Changing Next's output
// for any of them is a behaviour change: review the diff, then rerun with
// -update.
var goldenCases = []struct {
	spec   Spec
	anchor string // every only
	after  string
}{
	{Spec{Cron: "30 2 * * *", Timezone: "America/New_York"}, "", "2025-03-07T12:00:00-05:00"},
	{Spec{Cron: "*/30 * * * *", Timezone: "America/New_York"}, "", "2025-03-09T00:45:00-05:00"},
	{Spec{Cron: "0,30 2,3 * * *", Timezone: "America/New_York"}, "", "2025-03-09T00:00:00-05:00"},
	{Spec{Cron: "30 1 * * *", Timezone: "America/New_York"}, "", "2025-11-01T00:00:00-04:00"},
	{Spec{Cron: "*/20 * * * *", Timezone: "America/New_York"}, "", "2025-11-02T00:30:00-04:00"},
	{Spec{Cron: "0 * * * *", Timezone: "America/New_York"}, "", "2025-11-01T23:30:00-04:00"},
	{Spec{Cron: "0 1 * * *", Timezone: "Europe/London"}, "", "2025-03-29T00:00:00Z"},
	{Spec{Cron: "30 1 * * SUN", Timezone: "Europe/London"}, "", "2025-10-20T00:00:00Z"},
	{Spec{Cron: "15 2 * * *", Timezone: "Australia/Lord_Howe"}, "", "2025-10-03T00:00:00+10:30"},
	{Spec{Cron: "45 1 * * *", Timezone: "Australia/Lord_Howe"}, "", "2025-04-04T00:00:00+11:00"},
	{Spec{Cron: "*/15 1-2 * * *", Timezone: "Australia/Lord_Howe"}, "", "2025-04-06T01:00:00+11:00"},
	{Spec{Cron: "0 0 * * *", Timezone: "America/Sao_Paulo"}, "", "2018-11-02T12:00:00-03:00"},
	{Spec{Cron: "30 2 * * *", Timezone: "Australia/Sydney"}, "", "2025-10-03T00:00:00+10:00"},
	{Spec{Cron: "0 0 * * *", Timezone: "America/Santiago"}, "", "2025-09-05T12:00:00-04:00"},
	{Spec{Cron: "30 23 * * *", Timezone: "America/Santiago"}, "", "2025-04-03T12:00:00-03:00"},
	{Spec{Cron: "0 9 * * 1-5", Timezone: "Asia/Kolkata"}, "", "2025-01-01T00:00:00Z"},
	{Spec{Cron: "0 0 L * *"}, "", "2024-01-15T00:00:00Z"},
	{Spec{Cron: "0 0 L-2 * *"}, "", "2024-01-15T00:00:00Z"},
	{Spec{Cron: "0 0 31 * *"}, "", "2025-01-01T00:00:00Z"},
	{Spec{Cron: "0 0 13 * 5"}, "", "2025-06-01T00:00:00Z"},
	{Spec{Cron: "0 0 29 2 *"}, "", "2097-03-01T00:00:00Z"},
	{Spec{Cron: "*/10 * * * * *"}, "", "2025-01-01T00:00:00Z"},
	{Spec{Cron: "@weekly", Timezone: "Europe/London"}, "", "2025-03-20T00:00:00Z"},
	{Spec{Cron: "0 2 * * *", Timezone: "America/New_York"}, "", "2040-03-09T00:00:00-05:00"},
	{Spec{Every: "90m"}, "2025-03-09T00:00:00-05:00", "2025-03-09T00:00:00-05:00"},
	{Spec{Every: "24h"}, "2025-03-08T09:00:00-05:00", "2025-03-08T09:00:00-05:00"},
	{Spec{At: "2025-06-01T09:00:00+02:00"}, "", "2025-01-01T00:00:00Z"},
}

const goldenN = 8

func TestNext_Golden(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString("# Next fire times; regenerate with: go test ./trigger -run TestNext_Golden -update\n")
	for _, gc := range goldenCases {
		var anchor time.Time
		if gc.anchor != "" {
			anchor = mustTime(t, gc.anchor)
		}
		trig := mustCompile(t, gc.spec, anchor)
		fmt.Fprintf(&b, "\n%s after %s\n", describeSpec(gc.spec, gc.anchor), gc.after)
		for _, f := range fires(t, trig, mustTime(t, gc.after), farFuture, goldenN) {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	path := filepath.Join("testdata", "next.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create it")
	require.Equal(t, string(want), b.String())
}

func describeSpec(s Spec, anchor string) string {
	switch s.Kind() {
	case "cron":
		return fmt.Sprintf("cron %q timezone %q", s.Cron, s.Timezone)
	case "every":
		return fmt.Sprintf("every %q anchor %s", s.Every, anchor)
	}
	return fmt.Sprintf("at %q", s.At)
}
