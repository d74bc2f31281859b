package jepsen

import (
	"cmp"
	"context"
	"flag"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Flags of TestJepsen. Each falls back to the environment variable named in
// its help (what `make jepsen` sets), then to the default.
var (
	flagSeed     = flag.String("jepsen.seed", "", "seed of the run (env JEPSEN_SEED; default: random, printed)")
	flagDuration = flag.Duration("jepsen.duration", 0, "length of the fault phase (env JEPSEN_DURATION; default 45s)")
	flagNemeses  = flag.String("jepsen.nemeses", "", "comma-separated nemeses, all, or none (env JEPSEN_NEMESES; default all)")
	flagReport   = flag.String("jepsen.report", "", "report directory (env JEPSEN_REPORT; default reports/seed-<seed>-<time>)")
	flagKeep     = flag.Bool("jepsen.keep", false, "write the report directory even when the run passes")
	flagClients  = flag.Int("jepsen.clients", 0, "concurrent clients (default 6)")
	flagKeys     = flag.Int("jepsen.keys", 0, "schedule IDs (default 12)")
	flagRate     = flag.Int("jepsen.rate", 0, "operations per second, all clients (default 100)")
	flagNodes    = flag.Int("jepsen.nodes", 0, "cluster size, 3 or 5 (default 3)")
	flagBasePort = flag.Int("jepsen.baseport", 0, "governor base port (env JEPSEN_BASE_PORT; default 14100)")
	flagBinary   = flag.String("jepsen.bin", "", "prebuilt schedulezero binary (default: build it)")
	flagRecheck  = flag.String("jepsen.recheck", "", "report directory whose saved history TestRecheck checks again")
	flagDir      = flag.String("jepsen.dir", "", "governor directory, kept after the run (default: a temporary directory, removed when the run passes)")
)

// defaultTestDuration is the fault phase of a plain `go test`.
const defaultTestDuration = 45 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestJepsen runs one seeded Jepsen-style run against a real 3-node cluster
// (see docs/testing.md). It is skipped under -short.
func TestJepsen(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process Jepsen-style run; run without -short")
	}
	cfg := configFromFlags(t)
	t.Logf("jepsen seed %d (replay: %s)", cfg.Seed, ReplayMake(cfg))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("jepsen run could not be carried out (seed %d): %v", cfg.Seed, err)
	}
	if !rep.Passed() {
		t.Fatalf("jepsen run failed (seed %d): see the summary above and the report in %s", cfg.Seed, rep.Dir)
	}
}

func configFromFlags(t *testing.T) Config {
	t.Helper()
	cfg := Config{
		Duration:   cmp.Or(*flagDuration, envDuration(t, "JEPSEN_DURATION"), defaultTestDuration),
		Nemeses:    ParseNemeses(cmp.Or(*flagNemeses, os.Getenv("JEPSEN_NEMESES"))),
		ReportDir:  cmp.Or(*flagReport, os.Getenv("JEPSEN_REPORT")),
		KeepReport: *flagKeep,
		Clients:    *flagClients, Keys: *flagKeys, Rate: *flagRate, Nodes: *flagNodes,
		BasePort: cmp.Or(*flagBasePort, envInt(t, "JEPSEN_BASE_PORT")),
		Binary:   *flagBinary,
		Dir:      *flagDir,
		Out:      os.Stdout,
		Logf:     t.Logf,
	}
	cfg.Seed = time.Now().UnixNano() % 1_000_000
	if s := cmp.Or(*flagSeed, os.Getenv("JEPSEN_SEED")); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("jepsen seed %q: %v", s, err)
		}
		cfg.Seed = seed
	}
	if cfg.BinDir == "" {
		cfg.BinDir = t.TempDir()
	}
	return cfg
}

func envDuration(t *testing.T, name string) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

func envInt(t *testing.T, name string) int {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// TestRecheck runs the checkers again over a history saved in a report
// directory (-jepsen.recheck=DIR); it is skipped without the flag.
func TestRecheck(t *testing.T) {
	if *flagRecheck == "" {
		t.Skip("no -jepsen.recheck report directory given")
	}
	h, err := LoadHistory(*flagRecheck)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Seed: h.Seed, Nemeses: h.Requested}
	failed := false
	for _, r := range RunCheckers(h, DefaultCheckers(cfg)) {
		t.Logf("%-5s %-20s %s", r.Verdict, r.Name, r.Summary)
		for _, d := range r.Details {
			t.Logf("        %s", d)
		}
		failed = failed || !r.OK()
	}
	if failed {
		t.Fail()
	}
}
