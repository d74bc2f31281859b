package jepsen

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/governor"
)

// finalReadBudget bounds the retries of one final read; killDowntime is
// the supervisor's back-off after a kill or term.
const (
	finalReadBudget = 30 * time.Second
	killDowntime    = 3 * time.Second
	// governorLog is the governor's own log, in the governor directory.
	governorLog = "jepsen-governor.log"
)

// Run executes one seeded run: build (unless given) the binary, start the
// cluster through the governor, check that Raft traffic is attributed, run
// the workload under the nemesis schedule, heal, wait for a leader and for
// quiescence, take the final reads, stop the cluster and check the history.
//
// The error reports a run that could not be carried out (the binary does
// not build, the cluster does not start, ErrUnattributed); violations are
// reported by the Report, whose Passed is then false and whose Dir holds
// the evidence.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.printf("jepsen: seed %d, duration %s, %d nodes, %d clients, %d keys, %d ops/s, nemeses %v",
		cfg.Seed, cfg.Duration, cfg.Nodes, cfg.Clients, cfg.Keys, cfg.Rate, cfg.Nemeses)
	began := time.Now()
	binary, err := binaryFor(ctx, cfg)
	if err != nil {
		return nil, err
	}
	dir, cleanup, err := governorDir(cfg)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, dir: dir, h: &History{Seed: cfg.Seed, Keys: Keys(cfg.Keys), Requested: cfg.Nemeses}}
	handlerDir := filepath.Dir(binary)
	if cfg.Binary != "" {
		if handlerDir = cfg.BinDir; handlerDir == "" {
			if handlerDir, err = os.MkdirTemp("", "jepsen-bin-"); err != nil {
				return nil, fmt.Errorf("jepsen: %w", err)
			}
		}
	}
	if _, err := BuildHandler(ctx, handlerDir, cfg.Logf); err != nil {
		return nil, err
	}
	r.binDir = handlerDir
	runErr := r.run(ctx, binary)
	r.h.Seal()
	r.h.Final.SnapshotsInstalled = countInLogs(dir, r.h.Nodes, "Installed remote snapshot")
	r.h.Final.ForcedKills = countInFile(filepath.Join(dir, governorLog), "grace period over; killing")
	rep := &Report{Config: cfg, History: r.h, Elapsed: time.Since(began)}
	if runErr != nil {
		rep.SetupError = runErr.Error()
		rep.writeOrLog(dir)
		return rep, runErr
	}
	rep.Results = RunCheckers(r.h, DefaultCheckers(cfg))
	rep.Elapsed = time.Since(began)
	if !rep.Passed() || cfg.KeepReport {
		rep.writeOrLog(dir)
	}
	cfg.printf("%s", rep.Summary())
	if rep.Passed() {
		cleanup()
	}
	return rep, nil
}

func binaryFor(ctx context.Context, cfg Config) (string, error) {
	if cfg.Binary != "" {
		return cfg.Binary, nil
	}
	dir := cfg.BinDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "jepsen-bin-"); err != nil {
			return "", fmt.Errorf("jepsen: %w", err)
		}
	}
	return BuildBinary(ctx, dir, cfg.Logf)
}

// governorDir returns the governor directory and a cleanup that removes it
// when the harness created it.
func governorDir(cfg Config) (string, func(), error) {
	if cfg.Dir != "" {
		return cfg.Dir, func() {}, os.MkdirAll(cfg.Dir, 0o755)
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("jepsen-seed%d-", cfg.Seed))
	if err != nil {
		return "", nil, fmt.Errorf("jepsen: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// runner holds one run's state.
type runner struct {
	cfg Config
	dir string
	h   *History
	gov *governor.ProcessGovernor
	cl  *cluster
	fw  *fireWorkload
	// binDir holds szhandler (the governor's BinDir).
	binDir string
}

func (r *runner) run(ctx context.Context, binary string) error {
	logFile, err := os.Create(filepath.Join(r.dir, governorLog))
	if err != nil {
		return fmt.Errorf("jepsen: %w", err)
	}
	defer logFile.Close()
	gov, err := governor.New(governor.Config{
		Dir: r.dir, NodeBinary: binary, Nodes: r.cfg.Nodes, BasePort: r.cfg.BasePort,
		RaftProfile: r.cfg.RaftProfile, NodeArgs: r.cfg.NodeArgs,
		Handlers: FireHandlers, HandlerCommand: FireHandlerCommand, BinDir: r.binDir,
		// A killed node stays down a few seconds: long enough for the
		// leader to compact past it, so it catches up by InstallSnapshot.
		Restart: governor.RestartPolicy{Initial: killDowntime},
		Logger:  slog.New(slog.NewTextHandler(logFile, nil)),
	})
	if err != nil {
		return fmt.Errorf("jepsen: governor: %w", err)
	}
	r.gov = gov
	defer func() { _ = gov.Stop(context.Background()) }()
	start := time.Now()
	if err := gov.Start(ctx); err != nil {
		return fmt.Errorf("jepsen: start cluster: %w", err)
	}
	r.cl = newCluster(gov, r.cfg.OpTimeout)
	defer r.cl.close()
	if err := r.cl.refresh(ctx); err != nil {
		return err
	}
	for _, id := range r.cl.Members() {
		r.h.AddNode(id)
	}
	if err := r.cl.checkAttribution(ctx, r.cfg.Logf); err != nil {
		return err
	}
	r.cfg.printf("  cluster of %d up in %s (governor dir %s)", r.cfg.Nodes, time.Since(start).Round(time.Millisecond), r.dir)
	return r.drive(ctx)
}

// drive runs the workload, the monitor and the nemesis schedule, then the
// final phase.
func (r *runner) drive(ctx context.Context) error {
	nemeses, err := buildNemeses(r.cfg.Nemeses)
	if err != nil {
		return err
	}
	var bg sync.WaitGroup
	monCtx, stopMonitor := context.WithCancel(ctx)
	defer func() { stopMonitor(); bg.Wait() }()
	bg.Go(func() { monitor(monCtx, r.cl, r.h, defaultMonitorInterval) })

	r.fw = newFireWorkload(r.cfg.Seed, r.cl, r.dir, r.cfg.FireGrace)
	r.h.Fire = r.fw.f
	if err := r.fw.setup(ctx); err != nil {
		return err
	}
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	var fireBg sync.WaitGroup
	fireBg.Go(func() { r.fw.poll(pollCtx) })
	fireBg.Go(func() { r.fw.deleteAt(pollCtx, r.cfg.Duration/2) })

	wl := &workload{seed: r.cfg.Seed, clients: r.cfg.Clients, keys: r.h.Keys, cl: r.cl, h: r.h, pace: newPacer(r.cfg.Rate)}
	wlCtx, stopWorkload := context.WithCancel(ctx)
	defer stopWorkload()
	var wlDone sync.WaitGroup
	r.h.StartNS = governor.MonotonicNS()
	wlDone.Go(func() { wl.run(wlCtx) })

	e := &env{gov: r.gov, cl: r.cl, h: r.h, rng: newScheduleRNG(r.cfg.Seed), cfg: r.cfg, logf: r.cfg.Logf}
	runSchedule(ctx, e, nemeses, r.cfg.Duration)
	r.finalHeal(ctx, e)
	stopWorkload()
	wlDone.Wait()
	r.h.EndNS = governor.MonotonicNS()
	r.fw.pauseAll(ctx)
	stopPoll()
	fireBg.Wait()
	r.h.Final.Nodes, r.h.Final.QuiescedNS = r.cl.Quiesce(ctx, r.cfg.QuiescenceBound)
	r.finalReads(ctx)
	r.fw.finalRuns(ctx, "")
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jepsen: run interrupted: %w", err)
	}
	return nil
}

// newScheduleRNG is the nemesis schedule's RNG; the workload clients have
// their own, derived from the same seed.
func newScheduleRNG(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x6e656d65736973)) // "nemesis"
}

func buildNemeses(names []string) ([]Nemesis, error) {
	var out []Nemesis
	for _, name := range names {
		if name == NemesisNone {
			continue
		}
		n, err := newNemesis(name)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// finalHeal removes every fault, measures how long the cluster takes to
// have a ready leader again, and lets the workload run on briefly so that
// the recovery shows in the history.
func (r *runner) finalHeal(ctx context.Context, e *env) {
	r.cfg.printf("  %s final heal", clockStamp())
	_ = healAll(ctx, e)
	r.h.Final.HealNS = governor.MonotonicNS()
	if leader, err := r.cl.WaitLeader(ctx, r.cfg.LeaderBound); err == nil {
		r.h.Final.LeaderNS, r.h.Final.Leader = governor.MonotonicNS(), leader
	}
	w := Window{Kind: WindowHealthy, StartNS: governor.MonotonicNS()}
	_ = sleepCtx(ctx, defaultSettleAfterHeal)
	w.EndNS = governor.MonotonicNS()
	r.h.AddWindow(w)
}

// finalReads reads every key linearizably through the leader, then lists
// the schedules through every member, linearizably and locally.
func (r *runner) finalReads(ctx context.Context) {
	for _, key := range r.h.Keys {
		r.h.Final.Reads = append(r.h.Final.Reads, r.finalRead(ctx, key))
	}
	f := &r.h.Final
	f.Lists, f.StaleLists, f.ListErrors = map[string]map[string]string{}, map[string]map[string]string{}, map[string]string{}
	for _, id := range r.cl.Members() {
		for _, stale := range []bool{false, true} {
			list, err := r.cl.API(id).ListAllSchedules(ctx, client.ListOptions{Stale: stale})
			if err != nil {
				f.ListErrors[fmt.Sprintf("%s (stale=%t)", id, stale)] = err.Error()
				continue
			}
			m := map[string]string{}
			for _, s := range list {
				if isFireID(s.ID) {
					continue // the fire workload's schedules are checked by the fire checkers
				}
				m[s.ID] = s.Method
			}
			if stale {
				f.StaleLists[id] = m
			} else {
				f.Lists[id] = m
			}
		}
	}
}

// finalRead retries a linearizable GET of key until it gets a definite
// answer.
func (r *runner) finalRead(ctx context.Context, key string) FinalRead {
	fr := FinalRead{Key: key}
	deadline := time.Now().Add(finalReadBudget)
	for {
		members := r.cl.Members()
		node := r.cl.Leader(ctx)
		if node == "" {
			node = members[0]
		}
		fr.InvokeNS = governor.MonotonicNS()
		s, err := r.cl.API(node).GetSchedule(ctx, key)
		fr.CompleteNS = governor.MonotonicNS()
		switch {
		case err == nil:
			fr.Exists, fr.Value, fr.Error = true, s.Method, ""
			return fr
		case client.IsNotFound(err):
			fr.Error = ""
			return fr
		}
		fr.Error = err.Error()
		if time.Now().After(deadline) || sleepCtx(ctx, 200*time.Millisecond) != nil {
			return fr
		}
	}
}

// Report is the outcome of a run.
type Report struct {
	Config  Config
	History *History
	Results []Result
	// SetupError is set when the run could not be carried out.
	SetupError string
	// Dir is the report directory, when one was written.
	Dir     string
	Elapsed time.Duration
}

// Passed reports whether the run was carried out and every check passed.
func (r *Report) Passed() bool {
	if r.SetupError != "" || len(r.Results) == 0 {
		return false
	}
	return !slices.ContainsFunc(r.Results, func(res Result) bool { return !res.OK() })
}

// writeOrLog writes the report directory and logs where it is.
func (r *Report) writeOrLog(governorDir string) {
	dir, err := filepath.Abs(r.Config.ReportDir)
	if err == nil {
		err = r.Write(dir, governorDir)
	}
	if err != nil {
		r.Config.printf("jepsen: could not write the report: %v", err)
		return
	}
	r.Dir = dir
	r.Config.printf("jepsen: report written to %s", dir)
}

// countInLogs counts the occurrences of needle in the nodes' logs.
func countInLogs(governorDir string, nodes []string, needle string) int {
	n := 0
	for _, id := range nodes {
		n += countInFile(filepath.Join(governorDir, "nodes", id, "node.log"), needle)
	}
	return n
}

func countInFile(path, needle string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(needle))
}
