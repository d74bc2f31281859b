package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/internal/clock"
)

func TestParsePromText(t *testing.T) {
	t.Parallel()
	in := `# HELP sz_dispatch_fires_total Fire decisions.
# TYPE sz_dispatch_fires_total counter
sz_dispatch_fires_total{outcome="fired"} 120
sz_dispatch_fires_total{outcome="catchup"} 3
sz_run_duration_seconds_bucket{le="0.01"} 5
sz_run_duration_seconds_count 118
weird_label{path="a b} c",x="q\"}"} 7 1700000000000
process_resident_memory_bytes 2.5e+07
not a sample
broken{x="1" 3
`
	got, err := parsePromText(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, 123.0, got.get("sz_dispatch_fires_total"))
	require.Equal(t, 120.0, got.get(`sz_dispatch_fires_total{outcome="fired"}`))
	require.Equal(t, 118.0, got.get("sz_run_duration_seconds_count"))
	require.Equal(t, 7.0, got.get("weird_label"))
	require.Equal(t, 25e6, got.get("process_resident_memory_bytes"))
	require.Equal(t, 0.0, got.get("absent"))
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	line := "4242 (sched (zero) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 500 18446744073709551615"
	got, err := parseStatCPU([]byte(line))
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, got, "(250+50) ticks at 100 Hz")

	_, err = parseStatCPU([]byte("no paren"))
	require.Error(t, err)
	_, err = parseStatCPU([]byte("1 (x) S 1 2"))
	require.Error(t, err)
}

func TestProcSelf(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	rss, err := procRSS(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, rss)
	_, err = procCPU(os.Getpid())
	require.NoError(t, err)
}

func TestLogIndexes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "node.log")
	head := `{"msg":"snapshot complete up to","index":10}` + "\n"
	body := `{"msg":"starting snapshot up to","index":99}
{"msg":"snapshot complete up to","index":113,"node":"n1"}
{"msg":"Installed remote snapshot"}
{"msg":"snapshot complete up to","index":250}
`
	require.NoError(t, os.WriteFile(path, []byte(head+body), 0o644))
	idx, err := logIndexes(path, int64(len(head)), logSnapshotTaken)
	require.NoError(t, err)
	require.Equal(t, []uint64{113, 250}, idx)
	n, err := countInFile(path, 0, logSnapshotInstalled)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestScaleLog(t *testing.T) {
	t.Parallel()
	th, tr := scaleLog(1_000_000)
	require.Equal(t, 500, th)
	require.Equal(t, 250, tr)
	th, tr = scaleLog(100_000)
	require.Equal(t, 50, th)
	require.Equal(t, 25, tr)
	th, tr = scaleLog(10)
	require.Equal(t, 4, th)
	require.Equal(t, 2, tr)
}

func at(base time.Time, ms ...int) []acceptEvent {
	var out []acceptEvent
	for _, m := range ms {
		a := base.Add(time.Duration(m) * time.Millisecond)
		out = append(out, acceptEvent{At: a, Nominal: a.Add(-time.Millisecond)})
	}
	return out
}

func TestLongestGapAndLateness(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

	// Accepts every 10 ms with a 120 ms hole after the stop at t0.
	evs := at(t0, 150, -20, -10, 0, 10, 130, 140)
	require.Equal(t, 120*time.Millisecond, longestGap(evs, ms(5), ms(150)))
	require.Equal(t, 120*time.Millisecond, longestGap(evs, ms(100), ms(135)), "counted from the last accept before from")
	require.Equal(t, 140*time.Millisecond, longestGap(evs, ms(200), ms(290)), "nothing in the window: since the last accept")
	require.Equal(t, 5*time.Millisecond, longestGap(nil, ms(0), ms(5)))

	require.Equal(t, time.Millisecond, maxLateness(evs))
	evs[3].Nominal = evs[3].At.Add(-250 * time.Millisecond)
	require.Equal(t, 250*time.Millisecond, maxLateness(evs))
	require.Equal(t, time.Duration(0), maxLateness(nil))
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := newRecorder(clk, true)
	job := func(nominalAgo time.Duration, term uint64) *handlerclient.Job {
		return &handlerclient.Job{ScheduleID: "s", NominalAt: clk.Now().Add(-nominalAgo), Term: term}
	}
	require.NoError(t, r.observe(job(time.Millisecond, 2)))
	r.startSampling()
	require.NoError(t, r.observe(job(3*time.Millisecond, 2)))
	clk.Advance(time.Second)
	require.NoError(t, r.observe(job(5*time.Millisecond, 3)))
	require.Equal(t, []time.Duration{3 * time.Millisecond, 5 * time.Millisecond}, r.stopSampling())
	require.NoError(t, r.observe(job(time.Millisecond, 3)))
	require.Nil(t, r.stopSampling())
	require.EqualValues(t, 4, r.total.Load())

	e, err := r.waitEvent(context.Background(), func(e acceptEvent) bool { return e.Term == 3 })
	require.NoError(t, err)
	require.Equal(t, 5*time.Millisecond, e.lateness())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.waitEvent(ctx, func(e acceptEvent) bool { return e.Term == 4 })
		done <- err
	}()
	require.NoError(t, r.observe(job(0, 4)))
	require.NoError(t, <-done)
	cancel()
	_, err = r.waitEvent(ctx, func(e acceptEvent) bool { return e.Term == 9 })
	require.True(t, errors.Is(err, context.Canceled))
	require.Len(t, r.between(clk.Now(), clk.Now()), 3)
}
