package jepsen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/governor"
)

// Summary renders the run summary: operations, faults, leader changes,
// unavailability, and the verdict of every check.
func (r *Report) Summary() string {
	h := r.History
	var b strings.Builder
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "==== jepsen seed %d: %s (%s, %s of faults and workload)\n", r.Config.Seed, verdict,
		r.Elapsed.Round(time.Second), r.Config.Duration)
	if r.SetupError != "" {
		fmt.Fprintf(&b, "setup failed: %s\n", r.SetupError)
	}
	writeOpCounts(&b, h)
	faults := FaultCounts(h)
	total := 0
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(faults)) {
		total += faults[name]
		parts = append(parts, fmt.Sprintf("%s×%d", name, faults[name]))
	}
	fmt.Fprintf(&b, "faults:          %d injected: %s\n", total, strings.Join(parts, " "))
	leaders, _ := LeaderTerms(h.Observations)
	fmt.Fprintf(&b, "leader changes:  %d (%s)\n", max(len(leaders)-1, 0), describeLeaders(leaders))
	writeUnavailability(&b, h)
	fmt.Fprintf(&b, "snapshots:       %d InstallSnapshot received by lagging nodes\n", h.Final.SnapshotsInstalled)
	if h.Final.ForcedKills > 0 {
		fmt.Fprintf(&b, "forced kills:    %d nodes outlived the governor's SIGTERM grace period (see governor.log)\n", h.Final.ForcedKills)
	}
	b.WriteString("invariants:\n")
	for _, res := range r.Results {
		fmt.Fprintf(&b, "  %-5s %-20s %s (%s)\n", res.Verdict, res.Name, res.Summary, res.Elapsed.Round(time.Millisecond))
		if !res.OK() {
			for _, d := range limitDetails(res.Details, 12) {
				fmt.Fprintf(&b, "        %s\n", d)
			}
		}
	}
	fmt.Fprintf(&b, "replay:          %s\n", ReplayMake(r.Config))
	if r.Dir != "" {
		fmt.Fprintf(&b, "report:          %s\n", r.Dir)
	}
	return b.String()
}

func writeOpCounts(b *strings.Builder, h *History) {
	counts := map[OpKind]map[Outcome]int{}
	for _, op := range h.Ops {
		if counts[op.Kind] == nil {
			counts[op.Kind] = map[Outcome]int{}
		}
		counts[op.Kind][op.Outcome]++
	}
	fmt.Fprintf(b, "operations:      %d: %d ok, %d fail, %d unknown\n", len(h.Ops),
		h.Count(OutcomeOK), h.Count(OutcomeFail), h.Count(OutcomeUnknown))
	for _, k := range []OpKind{OpCreate, OpUpdate, OpDelete, OpGet} {
		c := counts[k]
		fmt.Fprintf(b, "  %-7s        ok %5d  fail %5d  unknown %4d\n", k, c[OutcomeOK], c[OutcomeFail], c[OutcomeUnknown])
	}
}

func describeLeaders(leaders []TermLeader) string {
	if len(leaders) == 0 {
		return "no leader observed"
	}
	var parts []string
	for _, l := range leaders[max(0, len(leaders)-8):] {
		parts = append(parts, fmt.Sprintf("t%d:%s", l.Term, l.Node))
	}
	prefix := ""
	if len(leaders) > 8 {
		prefix = "… "
	}
	return prefix + strings.Join(parts, " ")
}

func writeUnavailability(b *strings.Builder, h *History) {
	gaps := UnavailabilityWindows(h, DefaultUnavailableBlip)
	perNemesis := map[string]time.Duration{}
	var total time.Duration
	for _, g := range gaps {
		total += g.Duration()
		key := strings.Join(g.Nemeses, "+")
		perNemesis[key] = max(perNemesis[key], g.Duration())
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(perNemesis)) {
		parts = append(parts, fmt.Sprintf("%s %s", k, perNemesis[k].Round(time.Millisecond)))
	}
	fmt.Fprintf(b, "unavailability:  %d windows > %s, %s in all, longest %s\n", len(gaps), DefaultUnavailableBlip,
		total.Round(time.Millisecond), longestGap(gaps))
	if len(parts) > 0 {
		fmt.Fprintf(b, "  longest per nemesis: %s\n", strings.Join(parts, ", "))
	}
}

// ReplayMake is the make command that replays cfg's run.
func ReplayMake(cfg Config) string {
	s := fmt.Sprintf("make jepsen JEPSEN_SEED=%d JEPSEN_DURATION=%s", cfg.Seed, cfg.Duration)
	if n := strings.Join(cfg.Nemeses, ","); n != strings.Join(NemesisNames(), ",") {
		s += " JEPSEN_NEMESES=" + n
	}
	return s
}

// ReplayGoTest is the go test command (run in jepsen-style-tests/) that
// replays cfg's run.
func ReplayGoTest(cfg Config) string {
	args := []string{"go test -count=1 -timeout 0 -v -run 'TestJepsen$' .",
		fmt.Sprintf("-jepsen.seed=%d", cfg.Seed), "-jepsen.duration=" + cfg.Duration.String(),
		"-jepsen.nemeses=" + strings.Join(cfg.Nemeses, ",")}
	for _, kv := range []struct {
		flag     string
		val, def int
	}{{"clients", cfg.Clients, DefaultClients}, {"keys", cfg.Keys, DefaultKeys}, {"rate", cfg.Rate, DefaultRate}, {"nodes", cfg.Nodes, DefaultNodes}} {
		if kv.val != kv.def {
			args = append(args, fmt.Sprintf("-jepsen.%s=%d", kv.flag, kv.val))
		}
	}
	return strings.Join(args, " ")
}

// Write writes the report directory: the replay command, the summary, the
// checks, the history, the nemesis timelines, the final observations,
// checker artifacts (porcupine HTML) and copies of the node logs.
func (r *Report) Write(dir, governorDir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		return fmt.Errorf("jepsen: report: %w", err)
	}
	h := r.History
	files := map[string][]byte{
		"seed.txt": fmt.Appendf(nil, "seed %d\n\n# replay from the repository root:\n%s\n\n# or from jepsen-style-tests/:\n%s\n",
			r.Config.Seed, ReplayMake(r.Config), ReplayGoTest(r.Config)),
		"summary.txt":         []byte(r.Summary()),
		"checks.txt":          r.checksText(),
		"history.jsonl":       jsonLines(h.Ops),
		"nemesis.jsonl":       jsonLines(h.Nemesis),
		"windows.jsonl":       jsonLines(h.Windows),
		"observations.jsonl":  jsonLines(h.Observations),
		"final.json":          mustJSON(h),
		"governor-dir.txt":    []byte(governorDir + "\n"),
		"timeline-origin.txt": fmt.Appendf(nil, "workload start (monotonic ns): %d\n", h.StartNS),
	}
	for _, res := range r.Results {
		maps.Copy(files, res.Artifacts)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("jepsen: report: %w", err)
		}
	}
	_ = copyFile(filepath.Join(governorDir, governor.TimelineFile), filepath.Join(dir, "governor-timeline.jsonl"))
	_ = copyFile(filepath.Join(governorDir, governorLog), filepath.Join(dir, "governor.log"))
	for _, id := range h.Nodes {
		_ = copyFile(filepath.Join(governorDir, "nodes", id, "node.log"), filepath.Join(dir, "nodes", id+".log"))
	}
	return nil
}

func (r *Report) checksText() []byte {
	var b bytes.Buffer
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s %s: %s\n", res.Verdict, res.Name, res.Summary)
		for _, d := range res.Details {
			fmt.Fprintf(&b, "    %s\n", d)
		}
	}
	return b.Bytes()
}

func jsonLines[T any](items []T) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, it := range items {
		_ = enc.Encode(it)
	}
	return b.Bytes()
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return []byte(err.Error())
	}
	return append(b, '\n')
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// printf writes one progress line to Out.
func (c Config) printf(format string, args ...any) {
	fmt.Fprintf(c.Out, format+"\n", args...)
}

// clockStamp is the wall-clock time for progress lines.
func clockStamp() string { return time.Now().Format("15:04:05.0") }

// LoadHistory reads the history saved in a report directory, so that it
// can be checked again offline (go test -run TestRecheck -jepsen.recheck=DIR).
func LoadHistory(dir string) (*History, error) {
	h := &History{}
	b, err := os.ReadFile(filepath.Join(dir, "final.json"))
	if err != nil {
		return nil, fmt.Errorf("jepsen: load history: %w", err)
	}
	if err := json.Unmarshal(b, h); err != nil {
		return nil, fmt.Errorf("jepsen: load history: final.json: %w", err)
	}
	for name, into := range map[string]func([]byte) error{
		"history.jsonl":      func(l []byte) error { return appendJSON(l, &h.Ops) },
		"nemesis.jsonl":      func(l []byte) error { return appendJSON(l, &h.Nemesis) },
		"windows.jsonl":      func(l []byte) error { return appendJSON(l, &h.Windows) },
		"observations.jsonl": func(l []byte) error { return appendJSON(l, &h.Observations) },
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("jepsen: load history: %w", err)
		}
		for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			if err := into(line); err != nil {
				return nil, fmt.Errorf("jepsen: load history: %s line %d: %w", name, i+1, err)
			}
		}
	}
	h.Seal()
	return h, nil
}

func appendJSON[T any](line []byte, into *[]T) error {
	var v T
	if err := json.Unmarshal(line, &v); err != nil {
		return err
	}
	*into = append(*into, v)
	return nil
}
