package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/client"
)

// Scale scenario constants.
const (
	// idleStartIn puts the idle schedules' first fire years away.
	idleStartIn = 10 * 365 * 24 * time.Hour
	// Log lines (hashicorp/raft, through the node's JSON log) that show a
	// snapshot taken by the leader and one installed by a follower.
	logSnapshotTaken     = "snapshot complete up to"
	logSnapshotInstalled = "Installed remote snapshot"
	leaderSnapshotWait   = 60 * time.Second
	catchupTimeout       = 5 * time.Minute
	installLogWait       = 3 * time.Second
	// The leader counts as settled after a settleStep in which it used
	// less than settleCPU of a core; the wait is at most three idle
	// windows, and at least settleMin.
	settleStep      = time.Second
	settleCPU       = 0.05
	settleMin       = 15 * time.Second
	metricHeapInuse = "go_memstats_heap_inuse_bytes"
	metricRSS       = "process_resident_memory_bytes"
	metricCPU       = "process_cpu_seconds_total"
)

// scaleLog sizes the nodes' snapshot settings to the number of log entries
// the creation writes, so that the leader snapshots about twice during it
// and compacts its log past the follower that is down.
func scaleLog(schedules int) (threshold, trailing int) {
	entries := (schedules + batchSize - 1) / batchSize
	return max(4, entries/2), max(2, entries/4)
}

// scale runs the scale scenario: many idle schedules, memory, idle CPU,
// snapshot save/restore and a follower's catch-up.
func (r *Runner) scale(ctx context.Context, dir string) *ScaleResult {
	threshold, trailing := scaleLog(r.cfg.Schedules)
	res := &ScaleResult{Schedules: r.cfg.Schedules, IdleWindowS: r.cfg.IdleWindow.Seconds()}
	var args []string
	if r.cfg.Target == "" {
		res.SnapshotThreshold, res.TrailingLogs = threshold, trailing
		args = []string{"--snapshot-threshold", strconv.Itoa(threshold), "--trailing-logs", strconv.Itoa(trailing),
			"--snapshot-interval", "1s"}
	}
	err := r.withCluster(ctx, dir, args, func(c *benchCluster) error {
		return r.runScale(ctx, c, dir, res)
	})
	if err != nil {
		res.Error = err.Error()
		r.log.Error("scenario scale failed", "err", err)
	}
	return res
}

func (r *Runner) runScale(ctx context.Context, c *benchCluster, dir string, res *ScaleResult) error {
	var err error
	if res.Baseline, err = r.baseline(ctx, c); err != nil {
		return err
	}
	leader, _, err := c.leader(ctx)
	if err != nil {
		return err
	}
	res.Leader = leader
	res.RSSBeforeBytes, res.HeapBeforeBytes = r.memory(ctx, c, leader)
	if res.IdleCPUBeforePercent, err = r.cpuPercent(ctx, c, leader, r.cfg.IdleWindow); err != nil {
		return err
	}

	var leaderLogAt int64
	if c.governed() && len(c.nodes) > 1 {
		follower := c.followers(leader)[0]
		res.Follower = &CatchUp{Node: follower}
		leaderLogAt = logSize(ctx, c, leader)
		if s, err := c.client(follower).Self(ctx); err == nil {
			res.Follower.IndexAtStop = s.LastIndex
		}
		r.log.Info("scale: killing follower " + follower + " for the creation")
		if err := c.kill(ctx, follower); err != nil {
			return err
		}
		if err := c.waitExited(ctx, follower, exitTimeout); err != nil {
			return err
		}
	}

	if !c.governed() {
		defer r.cleanupIdle(context.WithoutCancel(ctx), c, res.Schedules)
	}
	if err := r.createIdle(ctx, c, leader, res); err != nil {
		return err
	}
	if res.Follower != nil {
		r.catchUp(ctx, c, leader, leaderLogAt, uint64(res.TrailingLogs), res.Follower)
	}
	if f := res.Follower; f != nil {
		res.SnapshotMS, res.RestoreMS = f.LeaderPersistMS, f.RestoreMS
	}
	if err := r.idleCPU(ctx, c, leader, res); err != nil {
		return err
	}
	res.RSSAfterBytes, res.HeapAfterBytes = r.memory(ctx, c, leader)
	if n := float64(res.Schedules); res.RSSBeforeBytes > 0 && res.RSSAfterBytes > 0 {
		res.RSSBytesPerSchedule = ptr(round3(float64(res.RSSAfterBytes-res.RSSBeforeBytes) / n))
	}
	if n := float64(res.Schedules); res.HeapBeforeBytes > 0 && res.HeapAfterBytes > 0 {
		res.HeapBytesPerSchedule = ptr(round3(float64(res.HeapAfterBytes-res.HeapBeforeBytes) / n))
	}
	return r.snapshots(ctx, c, dir, res)
}

// cleanupIdle deletes the idle schedules of a --target run (best effort,
// bounded).
func (r *Runner) cleanupIdle(ctx context.Context, c *benchCluster, n int) {
	api, _, err := c.leaderClient(ctx)
	if err != nil {
		return
	}
	r.log.Info(fmt.Sprintf("scale: deleting the %d idle schedules from the target cluster", n))
	r.deleteSchedules(ctx, api, r.idPrefix(ScenarioScale), n)
}

// createIdle creates the idle schedules on the leader.
func (r *Runner) createIdle(ctx context.Context, c *benchCluster, leader string, res *ScaleResult) error {
	start := r.clk.Now().Add(idleStartIn).Truncate(time.Hour)
	prefix := r.idPrefix(ScenarioScale)
	r.log.Info(fmt.Sprintf("scale: creating %d idle schedules (%d per request, %d at a time)", res.Schedules, batchSize, r.cfg.CreateClients))
	cr, err := r.createSchedules(ctx, c.client(leader), res.Schedules, func(i int) *client.Schedule {
		return idleSchedule(prefix, i, start)
	})
	res.Created = cr.Created + cr.Existing
	res.CreateSeconds = round3(cr.Elapsed.Seconds())
	if cr.Elapsed > 0 {
		res.CreatesPerSec = round3(float64(res.Created) / cr.Elapsed.Seconds())
	}
	if err != nil {
		return err
	}
	r.log.Info(fmt.Sprintf("scale: created %d schedules in %.1f s (%.0f/s)", cr.Created, res.CreateSeconds, res.CreatesPerSec))
	return nil
}

// memory returns node id's RSS and Go heap in use: RSS from /proc when
// its PID is known, else (and the heap always) from its metrics.
func (r *Runner) memory(ctx context.Context, c *benchCluster, id string) (rss, heap int64) {
	c.collectGarbage(ctx, id)
	m, err := c.scrape(ctx, id)
	if err == nil {
		rss, heap = int64(m.get(metricRSS)), int64(m.get(metricHeapInuse))
	}
	if pid := c.pid(ctx, id); pid > 0 {
		if v, err := procRSS(pid); err == nil {
			rss = v
		}
	}
	return rss, heap
}

// cpuTime returns node id's CPU time used so far: /proc when its PID is
// known, else its process_cpu_seconds_total.
func (r *Runner) cpuTime(ctx context.Context, c *benchCluster, id string) (time.Duration, error) {
	if pid := c.pid(ctx, id); pid > 0 {
		return procCPU(pid)
	}
	m, err := c.scrape(ctx, id)
	if err != nil {
		return 0, err
	}
	return time.Duration(m.get(metricCPU) * float64(time.Second)), nil
}

// idleCPU waits for the leader to settle (the work that follows the
// creation and the follower's catch-up: snapshots, garbage collection), then
// samples its CPU use over IdleWindow while every schedule is active and
// none is due, and the fires it commits meanwhile.
func (r *Runner) idleCPU(ctx context.Context, c *benchCluster, leader string, res *ScaleResult) error {
	settled, err := r.settle(ctx, c, leader)
	if err != nil {
		return err
	}
	res.IdleSettleS = round3(settled.Seconds())
	m0, merr0 := c.scrape(ctx, leader)
	if res.IdleCPUPercent, err = r.cpuPercent(ctx, c, leader, r.cfg.IdleWindow); err != nil {
		return err
	}
	if m1, merr1 := c.scrape(ctx, leader); merr0 == nil && merr1 == nil {
		res.IdleFires = m1.get(metricFires) - m0.get(metricFires)
	}
	r.log.Info(fmt.Sprintf("scale: idle CPU %.2f %% of a core over %s (%.2f %% before the creation), %.0f fires",
		*res.IdleCPUPercent, r.cfg.IdleWindow, *res.IdleCPUBeforePercent, res.IdleFires))
	return nil
}

// cpuPercent samples node id's CPU use over window, in % of one core.
func (r *Runner) cpuPercent(ctx context.Context, c *benchCluster, id string, window time.Duration) (*float64, error) {
	cpu0, err := r.cpuTime(ctx, c, id)
	if err != nil {
		return nil, fmt.Errorf("bench: CPU time of %s: %w", id, err)
	}
	t0 := r.clk.Now()
	if err := r.clk.sleep(ctx, window); err != nil {
		return nil, err
	}
	cpu1, err := r.cpuTime(ctx, c, id)
	if err != nil {
		return nil, fmt.Errorf("bench: CPU time of %s: %w", id, err)
	}
	return ptr(round3(100 * (cpu1 - cpu0).Seconds() / r.clk.Since(t0).Seconds())), nil
}

// settle waits until the leader used less than settleCPU of a core over
// one settleStep, at most settleMax; it returns how long that took.
func (r *Runner) settle(ctx context.Context, c *benchCluster, leader string) (time.Duration, error) {
	t0 := r.clk.Now()
	limit := max(3*r.cfg.IdleWindow, settleMin)
	for r.clk.Since(t0) < limit {
		a, err := r.cpuTime(ctx, c, leader)
		if err != nil {
			return 0, fmt.Errorf("bench: leader CPU time: %w", err)
		}
		if err := r.clk.sleep(ctx, settleStep); err != nil {
			return 0, err
		}
		b, err := r.cpuTime(ctx, c, leader)
		if err != nil {
			return 0, fmt.Errorf("bench: leader CPU time: %w", err)
		}
		if float64(b-a) < settleCPU*float64(settleStep) {
			break
		}
	}
	return r.clk.Since(t0), nil
}

// snapshots times GET /v1/cluster/snapshot into a file and POST of it.
func (r *Runner) snapshots(ctx context.Context, c *benchCluster, dir string, res *ScaleResult) error {
	api, _, err := c.leaderClient(ctx)
	if err != nil {
		return err
	}
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "scale-*.snap")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	t0 := r.clk.Now()
	n, err := api.SnapshotSave(ctx, f)
	if err != nil {
		return fmt.Errorf("bench: snapshot save: %w", err)
	}
	res.APISaveMS, res.SnapshotBytes = ptr(millis(r.clk.Since(t0))), n
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if !c.governed() {
		res.Notes = append(res.Notes, "restore skipped: with --target it would roll back writes made by others since the save")
		r.log.Info(fmt.Sprintf("scale: snapshot saved in %.0f ms (%s MiB); restore skipped on a --target cluster", *res.APISaveMS, mib(n)))
		return nil
	}
	r.log.Info(fmt.Sprintf("scale: snapshot saved in %.0f ms (%s MiB); restoring", *res.APISaveMS, mib(n)))
	t0 = r.clk.Now()
	if err := api.SnapshotRestore(ctx, f); err != nil {
		return fmt.Errorf("bench: snapshot restore: %w", err)
	}
	res.APIRestoreMS = ptr(millis(r.clk.Since(t0)))
	r.log.Info(fmt.Sprintf("scale: snapshot restored in %.0f ms", *res.APIRestoreMS))
	return nil
}

// catchUp waits for the leader to have snapshotted, restarts the follower
// and measures the time until it has the leader's applied index and
// digest; it reports whether the follower installed a snapshot.
func (r *Runner) catchUp(ctx context.Context, c *benchCluster, leader string, leaderLogAt int64, trailing uint64, cu *CatchUp) {
	// Compaction after a snapshot at S keeps S−trailing+1…; the follower
	// needs IndexAtStop+1, so a snapshot at IndexAtStop+trailing+1 or
	// later leaves it only the snapshot to catch up from.
	cu.LeaderSnapshots, cu.CompactedPastFollower = r.waitLeaderSnapshot(ctx, c, leader, leaderLogAt, cu.IndexAtStop+trailing+1)
	followerLogAt := logSize(ctx, c, cu.Node)
	t0 := r.clk.Now()
	if err := c.restart(ctx, cu.Node); err != nil {
		cu.Error = fmt.Sprintf("restart %s: %v", cu.Node, err)
		return
	}
	if err := r.waitCaughtUp(ctx, c, leader, cu.Node); err != nil {
		cu.Error = err.Error()
		return
	}
	cu.CatchupMS = ptr(millis(r.clk.Since(t0)))
	cu.SnapshotInstalled = r.snapshotInstalled(ctx, c, cu.Node, followerLogAt)
	if m, err := c.scrape(ctx, cu.Node); err == nil && m.get(metricRestoreCount) > 0 {
		cu.RestoreMS = ptr(round3(1000 * m.get(metricRestoreSum) / m.get(metricRestoreCount)))
	}
	if m, err := c.scrape(ctx, leader); err == nil && m.get(metricPersistCount) > 0 {
		cu.LeaderPersistMS = ptr(round3(1000 * m.get(metricPersistSum) / m.get(metricPersistCount)))
	}
	installed := "unknown"
	if cu.SnapshotInstalled != nil {
		installed = fmt.Sprint(*cu.SnapshotInstalled)
	}
	r.log.Info(fmt.Sprintf("scale: follower %s caught up in %.0f ms (snapshot installed: %s)", cu.Node, *cu.CatchupMS, installed))
}

// snapshotInstalled reports whether node id logged installing a snapshot
// from the leader after offset (nil: its log is unknown). Raft logs it
// after the state is visible, so the log is given a moment to show it.
func (r *Runner) snapshotInstalled(ctx context.Context, c *benchCluster, id string, offset int64) *bool {
	p, ok := c.process(ctx, id)
	if !ok || p.LogFile == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, installLogWait)
	defer cancel()
	for {
		n, err := countInFile(p.LogFile, offset, logSnapshotInstalled)
		switch {
		case err != nil:
			return nil
		case n > 0:
			return ptr(true)
		}
		if r.clk.sleep(ctx, pollInterval) != nil {
			return ptr(false)
		}
	}
}

// waitLeaderSnapshot waits (bounded) until the leader logged, after
// offset, a snapshot up to index want or later. It returns the number of
// snapshots logged after offset and whether one reached want.
func (r *Runner) waitLeaderSnapshot(ctx context.Context, c *benchCluster, leader string, offset int64, want uint64) (int, bool) {
	p, ok := c.process(ctx, leader)
	if !ok || p.LogFile == "" {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, leaderSnapshotWait)
	defer cancel()
	for {
		idx, err := logIndexes(p.LogFile, offset, logSnapshotTaken)
		if err != nil {
			return 0, false
		}
		if len(idx) > 0 && slices.Max(idx) >= want {
			return len(idx), true
		}
		if r.clk.sleep(ctx, 200*time.Millisecond) != nil {
			r.log.Warn("scale: the leader did not compact its log past the stopped follower; it may catch up from the log",
				"snapshots", len(idx), "want_index", want)
			return len(idx), false
		}
	}
}

// waitCaughtUp waits until follower reports the leader's applied index
// and digest.
func (r *Runner) waitCaughtUp(ctx context.Context, c *benchCluster, leader, follower string) error {
	ctx, cancel := context.WithTimeout(ctx, catchupTimeout)
	defer cancel()
	for {
		ls, lerr := c.probe[leader].Self(ctx)
		fs, ferr := c.probe[follower].Self(ctx)
		if lerr == nil && ferr == nil && fs.AppliedIndex >= ls.AppliedIndex && fs.AppliedIndex > 0 {
			if fs.AppliedIndex == ls.AppliedIndex && fs.Digest == ls.Digest {
				return nil
			}
		}
		if err := r.clk.sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("bench: %s did not catch up with %s within %s", follower, leader, catchupTimeout)
		}
	}
}

// logSize is the current size of node id's log file (0 when unknown).
func logSize(ctx context.Context, c *benchCluster, id string) int64 {
	p, ok := c.process(ctx, id)
	if !ok || p.LogFile == "" {
		return 0
	}
	fi, err := os.Stat(p.LogFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logIndexes returns the "index" attribute of every JSON log line of path
// after offset whose message is msg.
func logIndexes(path string, offset int64, msg string) ([]uint64, error) {
	b, err := readFrom(path, offset)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(msg)) {
			continue
		}
		var rec struct {
			Msg   string `json:"msg"`
			Index uint64 `json:"index"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == msg {
			out = append(out, rec.Index)
		}
	}
	return out, nil
}

// countInFile counts the lines of path after offset that contain needle.
func countInFile(path string, offset int64, needle string) (int, error) {
	b, err := readFrom(path, offset)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte(needle)), nil
}

// readFrom reads path from offset to its end.
func readFrom(path string, offset int64) ([]byte, error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}
