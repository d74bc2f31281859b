package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Report is the result of one szbench run: the headline figures at the top
// level (null when the scenario that measures them did not run or failed),
// the workload parameters, the machine and one object per scenario (null
// when it did not run). Its JSON form is what -o json prints.
type Report struct {
	// FiresPerSec is the throughput scenario's end-to-end completion rate.
	FiresPerSec *float64 `json:"fires_per_sec"`
	// RatioVsBaseline is FiresPerSec / BaselineRaftCommitsPerSec.
	RatioVsBaseline *float64 `json:"ratio_vs_baseline"`
	// DispatchP50MS and DispatchP99MS are nominal time → handler accepted,
	// from the latency scenario (from throughput when latency did not run).
	DispatchP50MS *float64 `json:"dispatch_p50_ms"`
	DispatchP99MS *float64 `json:"dispatch_p99_ms"`
	// FailoverGapMS is the median kill -9 → first dispatch by the next
	// leader; GracefulGapMS the longest pause between dispatches around a
	// SIGTERM of the leader.
	FailoverGapMS *float64 `json:"failover_gap_ms"`
	GracefulGapMS *float64 `json:"graceful_gap_ms"`
	// Schedules is the scale scenario's number of idle schedules.
	Schedules           *int     `json:"schedules"`
	RSSBytesPerSchedule *float64 `json:"rss_bytes_per_schedule"`
	SnapshotMS          *float64 `json:"snapshot_ms"`
	RestoreMS           *float64 `json:"restore_ms"`
	// BaselineRaftCommitsPerSec is the raw single-entry commit rate of the
	// throughput scenario's cluster (of the first scenario's when
	// throughput did not run).
	BaselineRaftCommitsPerSec *float64 `json:"baseline_raft_commits_per_sec"`

	Params    Params    `json:"params"`
	Machine   Machine   `json:"machine"`
	Scenarios Scenarios `json:"scenarios"`
	StartedAt time.Time `json:"started_at"`
	ElapsedS  float64   `json:"elapsed_s"`
}

// Params are the workload parameters of the run.
type Params struct {
	Scenarios         []string `json:"scenarios"`
	Short             bool     `json:"short"`
	Nodes             int      `json:"nodes"`
	RaftProfile       string   `json:"raft_profile"`
	Target            string   `json:"target,omitempty"`
	Handlers          int      `json:"handlers"`
	HandlerCapacity   int      `json:"handler_capacity"`
	DurationS         float64  `json:"duration_s"`
	WarmupS           float64  `json:"warmup_s"`
	IntervalS         float64  `json:"interval_s"`
	ThroughputRate    float64  `json:"throughput_rate"`
	LatencyRate       float64  `json:"latency_rate"`
	ScaleSchedules    int      `json:"scale_schedules"`
	FailoverSchedules int      `json:"failover_schedules"`
	FailoverTrials    int      `json:"failover_trials"`
	IdleWindowS       float64  `json:"idle_window_s"`
	CreateClients     int      `json:"create_clients"`
	BatchSize         int      `json:"batch_size"`
	BaselineCommits   int      `json:"baseline_commits"`
	BasePort          int      `json:"base_port"`
}

// Machine describes where the run happened.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Kernel     string `json:"kernel"`
	CPUModel   string `json:"cpu_model"`
}

// Scenarios holds one result per scenario; nil when it did not run.
type Scenarios struct {
	Throughput *RateResult     `json:"throughput"`
	Latency    *RateResult     `json:"latency"`
	Failover   *FailoverResult `json:"failover"`
	Scale      *ScaleResult    `json:"scale"`
}

// Baseline is the raw single-entry Raft commit rate of a scenario's
// cluster (POST /v1/cluster/bench/commits on its leader).
type Baseline struct {
	CommitsPerSec float64 `json:"commits_per_sec"`
	Commits       int     `json:"commits"`
	Concurrency   int     `json:"concurrency"`
	PayloadBytes  int     `json:"payload_bytes"`
	ElapsedMS     float64 `json:"elapsed_ms"`
	P50MS         float64 `json:"p50_ms"`
	P99MS         float64 `json:"p99_ms"`
}

// RateResult is the throughput or latency scenario: schedules firing at
// Rate fires/s, measured over WindowS after a warm-up.
type RateResult struct {
	Error    string    `json:"error,omitempty"`
	Baseline *Baseline `json:"baseline"`
	Leader   string    `json:"leader"`
	// Rate is the planned fires/s: Schedules every IntervalS, one fire
	// every SpacingMS.
	Rate          float64 `json:"rate"`
	Schedules     int     `json:"schedules"`
	IntervalS     float64 `json:"interval_s"`
	SpacingMS     float64 `json:"spacing_ms"`
	CreateSeconds float64 `json:"create_seconds"`
	WindowS       float64 `json:"window_s"`
	// Completed runs: result committed and acknowledged to the handler
	// within the window; FiresPerSec = Completed / WindowS.
	Completed       int64    `json:"completed"`
	FiresPerSec     float64  `json:"fires_per_sec"`
	RatioVsBaseline *float64 `json:"ratio_vs_baseline"`
	// Accepted is the number of jobs the handlers accepted in the window.
	Accepted int64 `json:"accepted"`
	// LeaderFiresPerSec and LeaderResultsPerSec cross-check from the
	// leader's metrics (sz_dispatch_fires_total, results received);
	// null when the leader changed during the window.
	LeaderFiresPerSec   *float64 `json:"leader_fires_per_sec"`
	LeaderResultsPerSec *float64 `json:"leader_results_per_sec"`
	// Dispatch is handler accepted − nominal time of every job accepted
	// in the window.
	Dispatch Summary `json:"dispatch"`
}

// FailoverResult is the failover scenario.
type FailoverResult struct {
	Error       string    `json:"error,omitempty"`
	Baseline    *Baseline `json:"baseline"`
	RaftProfile string    `json:"raft_profile"`
	Schedules   int       `json:"schedules"`
	SpacingMS   float64   `json:"spacing_ms"`
	// GapMS summarises the kill -9 trials: kill → first dispatch of a
	// later term received by a handler.
	GapMedianMS *float64        `json:"gap_median_ms"`
	GapMinMS    *float64        `json:"gap_min_ms"`
	GapMaxMS    *float64        `json:"gap_max_ms"`
	GapsMS      []float64       `json:"gaps_ms"`
	Trials      []FailoverTrial `json:"trials"`
	// Graceful is the SIGTERM trial with the median gap of
	// GracefulTrials (gracefulTrials of them).
	Graceful       *GracefulTrial  `json:"graceful"`
	GracefulTrials []GracefulTrial `json:"graceful_trials"`
}

// FailoverTrial is one kill -9 of the leader.
type FailoverTrial struct {
	Killed    string  `json:"killed"`
	NewLeader string  `json:"new_leader"`
	OldTerm   uint64  `json:"old_term"`
	NewTerm   uint64  `json:"new_term"`
	GapMS     float64 `json:"gap_ms"`
	// MaxFireLatenessMS is the largest accept − nominal of the jobs
	// accepted from the kill until one second after the first new one.
	MaxFireLatenessMS float64 `json:"max_fire_lateness_ms"`
	Error             string  `json:"error,omitempty"`
}

// GracefulTrial is one SIGTERM of the leader (leadership transfer).
type GracefulTrial struct {
	Stopped   string `json:"stopped"`
	NewLeader string `json:"new_leader"`
	OldTerm   uint64 `json:"old_term"`
	NewTerm   uint64 `json:"new_term"`
	// HandoverMS is SIGTERM → first dispatch of the new term.
	HandoverMS float64 `json:"handover_ms"`
	// GapMS is the longest time between two consecutive accepts from the
	// SIGTERM until one second after the handover (the planned spacing is
	// SpacingMS of the scenario).
	GapMS float64 `json:"gap_ms"`
	// MaxFireLatenessMS is the largest accept − nominal in that window.
	MaxFireLatenessMS float64 `json:"max_fire_lateness_ms"`
	Error             string  `json:"error,omitempty"`
}

// ScaleResult is the scale scenario.
type ScaleResult struct {
	Error     string    `json:"error,omitempty"`
	Baseline  *Baseline `json:"baseline"`
	Leader    string    `json:"leader"`
	Schedules int       `json:"schedules"`
	// Created counts the schedules in place after the creation (created
	// now, or existing already with the same ID).
	Created       int     `json:"created"`
	CreateSeconds float64 `json:"create_seconds"`
	CreatesPerSec float64 `json:"creates_per_sec"`
	// Leader memory before the schedules were created and after the idle
	// window: RSS
	// (/proc/<pid>/status, or process_resident_memory_bytes with
	// --target) and the Go heap in use (go_memstats_heap_inuse_bytes).
	RSSBeforeBytes       int64    `json:"rss_before_bytes"`
	RSSAfterBytes        int64    `json:"rss_after_bytes"`
	RSSBytesPerSchedule  *float64 `json:"rss_bytes_per_schedule"`
	HeapBeforeBytes      int64    `json:"heap_before_bytes"`
	HeapAfterBytes       int64    `json:"heap_after_bytes"`
	HeapBytesPerSchedule *float64 `json:"heap_bytes_per_schedule"`
	// IdleCPUPercent is the leader's CPU use (% of one core) over
	// IdleWindowS with every schedule active and none due; IdleFires the
	// fire decisions it committed meanwhile (expected 0).
	IdleCPUPercent *float64 `json:"idle_cpu_percent"`
	// IdleCPUBeforePercent is the same over a window before the creation
	// (no schedules), to tell the cost of the schedules from the rest.
	IdleCPUBeforePercent *float64 `json:"idle_cpu_before_percent"`
	IdleWindowS          float64  `json:"idle_window_s"`
	IdleFires            float64  `json:"idle_fires"`
	// IdleSettleS is how long the leader stayed busy after the creation
	// and the catch-up before the idle window opened (it opens after a
	// second below 5 % of a core, at the latest after three windows).
	IdleSettleS float64 `json:"idle_settle_s"`
	// SnapshotMS and RestoreMS are the Raft-level figures: the leader's
	// snapshot persist and the caught-up follower's restore of the
	// installed snapshot (from the nodes' metrics). The API round trip
	// (GET and POST /v1/cluster/snapshot, which also spools, validates and
	// re-replicates the upload) is APISaveMS and APIRestoreMS.
	SnapshotMS    *float64 `json:"snapshot_ms"`
	SnapshotBytes int64    `json:"snapshot_bytes"`
	RestoreMS     *float64 `json:"restore_ms"`
	APISaveMS     *float64 `json:"api_snapshot_save_ms"`
	APIRestoreMS  *float64 `json:"api_snapshot_restore_ms"`
	// Follower is the catch-up of a follower stopped before the creation.
	Follower *CatchUp `json:"follower"`
	// SnapshotThreshold and TrailingLogs were passed to the nodes so that
	// the leader compacts its log past the stopped follower.
	SnapshotThreshold int `json:"snapshot_threshold"`
	TrailingLogs      int `json:"trailing_logs"`
	// Notes explain measurements that were skipped.
	Notes []string `json:"notes,omitempty"`
}

// CatchUp is a restarted follower catching up with the leader.
type CatchUp struct {
	Node string `json:"node"`
	// CatchupMS is restart → same applied index and digest as the leader.
	CatchupMS *float64 `json:"catchup_ms"`
	// IndexAtStop is the follower's last log index when it was stopped.
	IndexAtStop uint64 `json:"index_at_stop"`
	// LeaderSnapshots counts the Raft snapshots the leader logged while
	// the follower was down; CompactedPastFollower whether one of them let
	// the leader drop log entries the follower still needed (so it can
	// only catch up by installing a snapshot).
	LeaderSnapshots       int  `json:"leader_snapshots"`
	CompactedPastFollower bool `json:"compacted_past_follower"`
	// SnapshotInstalled reports whether the follower logged installing a
	// snapshot from the leader (null: unknown).
	SnapshotInstalled *bool `json:"snapshot_installed"`
	// RestoreMS is the follower's FSM restore of the installed snapshot
	// (its sz_raft_restore_seconds); LeaderPersistMS the mean duration of
	// the leader's Raft snapshots while it was down
	// (sz_raft_snapshot_persist_seconds).
	RestoreMS       *float64 `json:"restore_ms"`
	LeaderPersistMS *float64 `json:"leader_persist_ms"`
	Error           string   `json:"error,omitempty"`
}

// newReport fills the parameters and the machine.
func newReport(cfg Config, started time.Time) *Report {
	return &Report{
		Params: Params{
			Scenarios: cfg.Scenarios, Short: cfg.Short, Nodes: cfg.Nodes, RaftProfile: cfg.RaftProfile,
			Target: cfg.Target, Handlers: cfg.Handlers, HandlerCapacity: cfg.Capacity,
			DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(), IntervalS: cfg.Interval.Seconds(),
			ThroughputRate: cfg.rateFor(ScenarioThroughput), LatencyRate: cfg.rateFor(ScenarioLatency),
			ScaleSchedules: cfg.Schedules, FailoverSchedules: cfg.FailoverSchedules, FailoverTrials: cfg.FailoverTrials,
			IdleWindowS: cfg.IdleWindow.Seconds(), CreateClients: cfg.CreateClients, BatchSize: batchSize,
			BaselineCommits: cfg.BaselineCommits, BasePort: cfg.BasePort,
		},
		Machine:   currentMachine(),
		StartedAt: started.UTC(),
	}
}

func currentMachine() Machine {
	return Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, Kernel: kernelRelease(), CPUModel: cpuModel()}
}

// summarize fills the top-level figures from the scenario results.
func (r *Report) summarize() {
	sc := r.Scenarios
	if t := sc.Throughput; t != nil && t.Error == "" {
		r.FiresPerSec, r.RatioVsBaseline = ptr(t.FiresPerSec), t.RatioVsBaseline
	}
	for _, rr := range []*RateResult{sc.Latency, sc.Throughput} {
		if rr != nil && rr.Error == "" && rr.Dispatch.Count > 0 {
			r.DispatchP50MS, r.DispatchP99MS = ptr(rr.Dispatch.P50), ptr(rr.Dispatch.P99)
			break
		}
	}
	if f := sc.Failover; f != nil {
		r.FailoverGapMS = f.GapMedianMS
		if f.Graceful != nil && f.Graceful.Error == "" {
			r.GracefulGapMS = ptr(f.Graceful.GapMS)
		}
	}
	if s := sc.Scale; s != nil && s.Created > 0 {
		// Each figure is set only once measured, so a failure late in
		// the scenario (say, the restore) keeps the earlier ones.
		r.Schedules, r.RSSBytesPerSchedule = ptr(s.Created), s.RSSBytesPerSchedule
		r.SnapshotMS, r.RestoreMS = s.SnapshotMS, s.RestoreMS
	}
	for _, b := range []*Baseline{baselineOf(sc.Throughput), baselineOf(sc.Latency), failoverBaseline(sc.Failover), scaleBaseline(sc.Scale)} {
		if b != nil {
			r.BaselineRaftCommitsPerSec = ptr(b.CommitsPerSec)
			break
		}
	}
}

func baselineOf(r *RateResult) *Baseline {
	if r == nil {
		return nil
	}
	return r.Baseline
}

func failoverBaseline(f *FailoverResult) *Baseline {
	if f == nil {
		return nil
	}
	return f.Baseline
}

func scaleBaseline(s *ScaleResult) *Baseline {
	if s == nil {
		return nil
	}
	return s.Baseline
}

// errors lists the scenario errors ("" when none).
func (r *Report) errors() []string {
	var out []string
	add := func(name, msg string) {
		if msg != "" {
			out = append(out, name+": "+msg)
		}
	}
	if t := r.Scenarios.Throughput; t != nil {
		add(ScenarioThroughput, t.Error)
	}
	if l := r.Scenarios.Latency; l != nil {
		add(ScenarioLatency, l.Error)
	}
	if f := r.Scenarios.Failover; f != nil {
		add(ScenarioFailover, f.Error)
	}
	if s := r.Scenarios.Scale; s != nil {
		add(ScenarioScale, s.Error)
	}
	return out
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the human summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	m := r.Machine
	p("szbench — %d nodes, raft profile %s, %d handlers; %d cores, %s, Linux %s", r.Params.Nodes, r.Params.RaftProfile,
		r.Params.Handlers, m.Cores, m.GoVersion, orDash(m.Kernel))
	if t := r.Scenarios.Throughput; t != nil {
		p("")
		writeRate(p, "throughput", t)
	}
	if l := r.Scenarios.Latency; l != nil {
		p("")
		writeRate(p, "latency", l)
	}
	if f := r.Scenarios.Failover; f != nil {
		p("")
		writeFailover(p, f)
	}
	if s := r.Scenarios.Scale; s != nil {
		p("")
		writeScale(p, s)
	}
	p("")
	p("headline: fires/s %s (%s× baseline %s commits/s), dispatch p50/p99 %s/%s ms, failover %s ms, graceful gap %s ms",
		num(r.FiresPerSec, 0), num(r.RatioVsBaseline, 2), num(r.BaselineRaftCommitsPerSec, 0), num(r.DispatchP50MS, 2),
		num(r.DispatchP99MS, 2), num(r.FailoverGapMS, 0), num(r.GracefulGapMS, 0))
	p("          %s schedules: %s B/schedule RSS, snapshot %s ms, restore %s ms (total run %.0f s)",
		intOrDash(r.Schedules), num(r.RSSBytesPerSchedule, 0), num(r.SnapshotMS, 0), num(r.RestoreMS, 0), r.ElapsedS)
	_, err := io.WriteString(w, b.String())
	return err
}

type printer func(format string, args ...any)

func writeBaseline(p printer, b *Baseline) {
	if b == nil {
		p("  baseline raft commits: -")
		return
	}
	p("  baseline raft commits: %.0f/s (%d commits, concurrency %d, %d B, p50 %.2f ms, p99 %.2f ms)",
		b.CommitsPerSec, b.Commits, b.Concurrency, b.PayloadBytes, b.P50MS, b.P99MS)
}

func writeRate(p printer, name string, r *RateResult) {
	p("%s: %g fires/s planned (%d schedules every %gs, one every %.2f ms), window %.0f s, leader %s",
		name, r.Rate, r.Schedules, r.IntervalS, r.SpacingMS, r.WindowS, orDash(r.Leader))
	if r.Error != "" {
		p("  ERROR: %s", r.Error)
	}
	writeBaseline(p, r.Baseline)
	p("  completed end to end: %d = %.0f fires/s (%s× baseline); accepted %d; leader: fires %s/s, results %s/s",
		r.Completed, r.FiresPerSec, num(r.RatioVsBaseline, 2), r.Accepted, num(r.LeaderFiresPerSec, 0), num(r.LeaderResultsPerSec, 0))
	writeSummary(p, "  nominal → accepted", r.Dispatch)
}

func writeSummary(p printer, label string, s Summary) {
	p("%s: n=%d p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms", label, s.Count, s.P50, s.P90, s.P99, s.Max)
}

func writeFailover(p printer, f *FailoverResult) {
	p("failover: raft profile %s, %d schedules (a fire every %.0f ms)", f.RaftProfile, f.Schedules, f.SpacingMS)
	if f.Error != "" {
		p("  ERROR: %s", f.Error)
	}
	writeBaseline(p, f.Baseline)
	for i, t := range f.Trials {
		if t.Error != "" {
			p("  kill -9 #%d %s: ERROR %s", i+1, t.Killed, t.Error)
			continue
		}
		p("  kill -9 #%d %s (term %d) → %s (term %d): gap %.0f ms, max lateness %.0f ms", i+1, t.Killed, t.OldTerm,
			t.NewLeader, t.NewTerm, t.GapMS, t.MaxFireLatenessMS)
	}
	p("  kill -9 gap: median %s ms, min %s ms, max %s ms", num(f.GapMedianMS, 0), num(f.GapMinMS, 0), num(f.GapMaxMS, 0))
	for i, g := range f.GracefulTrials {
		if g.Error != "" {
			p("  SIGTERM #%d %s: ERROR %s", i+1, g.Stopped, g.Error)
		} else {
			p("  SIGTERM #%d %s → %s: handover %.0f ms, longest gap %.0f ms, max lateness %.0f ms", i+1, g.Stopped, g.NewLeader,
				g.HandoverMS, g.GapMS, g.MaxFireLatenessMS)
		}
	}
	if g := f.Graceful; g != nil && g.Error == "" {
		p("  SIGTERM gap: median %.0f ms (trial of %s)", g.GapMS, g.Stopped)
	}
}

func writeScale(p printer, s *ScaleResult) {
	if s.SnapshotThreshold > 0 {
		p("scale: %d idle schedules, leader %s (snapshot threshold %d, trailing logs %d)", s.Schedules, orDash(s.Leader),
			s.SnapshotThreshold, s.TrailingLogs)
	} else {
		p("scale: %d idle schedules, leader %s", s.Schedules, orDash(s.Leader))
	}
	if s.Error != "" {
		p("  ERROR: %s", s.Error)
	}
	writeBaseline(p, s.Baseline)
	p("  create: %.1f s = %.0f schedules/s", s.CreateSeconds, s.CreatesPerSec)
	p("  leader RSS %s → %s MiB = %s B/schedule; heap %s → %s MiB = %s B/schedule", mib(s.RSSBeforeBytes), mib(s.RSSAfterBytes),
		num(s.RSSBytesPerSchedule, 0), mib(s.HeapBeforeBytes), mib(s.HeapAfterBytes), num(s.HeapBytesPerSchedule, 0))
	p("  idle CPU %s %% of a core over %.0f s (%.0f fires), after %.1f s settling; %s %% before the creation",
		num(s.IdleCPUPercent, 2), s.IdleWindowS, s.IdleFires, s.IdleSettleS, num(s.IdleCPUBeforePercent, 2))
	p("  raft snapshot persist %s ms, follower snapshot restore %s ms", num(s.SnapshotMS, 0), num(s.RestoreMS, 0))
	p("  API snapshot save %s ms (%s MiB), API restore %s ms", num(s.APISaveMS, 0), mib(s.SnapshotBytes), num(s.APIRestoreMS, 0))
	for _, n := range s.Notes {
		p("  note: %s", n)
	}
	if f := s.Follower; f != nil {
		installed := "unknown"
		if f.SnapshotInstalled != nil {
			installed = fmt.Sprint(*f.SnapshotInstalled)
		}
		p("  follower %s catch-up %s ms; leader snapshots %d (log compacted past it: %v); snapshot installed: %s%s", f.Node,
			num(f.CatchupMS, 0), f.LeaderSnapshots, f.CompactedPastFollower, installed, errSuffix(f.Error))
	}
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (ERROR: " + e + ")"
}

func num(v *float64, prec int) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, *v)
}

func intOrDash(v *int) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ptr[T any](v T) *T { return &v }
