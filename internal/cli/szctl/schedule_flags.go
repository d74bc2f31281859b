package szctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/trigger"
)

// scheduleFlags are the schedule fields settable from the command line,
// shared by create and update. Only the flags given are applied, so an
// update changes exactly the fields the user named.
type scheduleFlags struct {
	fs                          *pflag.FlagSet
	file                        string
	id, handler, method, params string
	cron, timezone, every, at   string
	overlap                     string
	maxRetries, maxRuns         int
	paused                      bool
	durations                   map[string]*string // flag name → raw value
	times                       map[string]*string

	// Set by parse.
	parsedDurations map[string]fsm.Duration
	parsedTimes     map[string]*time.Time
}

func registerScheduleFlags(fs *pflag.FlagSet, withID bool) *scheduleFlags {
	f := &scheduleFlags{fs: fs, durations: map[string]*string{}, times: map[string]*string{}}
	fs.StringVarP(&f.file, "file", "f", "", "read the schedule as JSON from `FILE` (- for stdin); other flags override its fields")
	if withID {
		fs.StringVar(&f.id, "id", "", "schedule ID")
	}
	fs.StringVar(&f.handler, "handler", "", "handler name the jobs are sent to")
	fs.StringVar(&f.method, "method", "", "handler method to call")
	fs.StringVar(&f.params, "params", "", "method parameters as a `JSON` value (\"\" clears)")
	fs.StringVar(&f.cron, "cron", "", "cron trigger: 5 or 6 fields or @descriptor")
	fs.StringVar(&f.timezone, "timezone", "", "IANA time `zone` of the cron trigger (server default UTC)")
	fs.StringVar(&f.every, "every", "", "interval trigger: a Go `duration` such as 5m")
	fs.StringVar(&f.at, "at", "", "one-shot trigger: an RFC 3339 `time`")
	fs.StringVar(&f.overlap, "overlap", "", "overlap `policy`: skip, allow, buffer_one or cancel_other (server default skip)")
	f.durationFlag("catchup-window", "catch up fires missed by at most this `duration` (server default 1h)")
	fs.IntVar(&f.maxRetries, "max-retries", 0, "retries of a failed run (server default 3)")
	f.durationFlag("retry-backoff", "first back-off `duration` between retries (server default 1s)")
	f.durationFlag("timeout", "run timeout `duration` (server default 10m)")
	f.durationFlag("jitter", "random delay `duration` added to each fire (server default 0s)")
	f.timeFlag("start-at", "do not fire before this RFC 3339 `time` (\"\" clears)")
	f.timeFlag("end-at", "do not fire after this RFC 3339 `time` (\"\" clears)")
	fs.IntVar(&f.maxRuns, "max-runs", 0, "stop after this many runs (0: unlimited)")
	fs.BoolVar(&f.paused, "paused", false, "create the schedule paused (--paused=false resumes on update)")
	return f
}

func (f *scheduleFlags) durationFlag(name, usage string) {
	f.durations[name] = f.fs.String(name, "", usage)
}

func (f *scheduleFlags) timeFlag(name, usage string) {
	f.times[name] = f.fs.String(name, "", usage)
}

// changedAny reports whether any schedule field flag was given.
func (f *scheduleFlags) changedAny() bool {
	changed := false
	f.fs.Visit(func(fl *pflag.Flag) {
		if fl.Name != "file" && fl.Name != "addr" && fl.Name != "output" {
			changed = true
		}
	})
	return changed
}

// parse checks the values of the flags given; its errors are usage errors.
func (f *scheduleFlags) parse() error {
	ch := f.fs.Changed
	n := 0
	for _, k := range []string{"cron", "every", "at"} {
		if ch(k) {
			n++
		}
	}
	switch {
	case n > 1:
		return errors.New("--cron, --every and --at are mutually exclusive")
	case ch("timezone") && (ch("every") || ch("at")):
		return errors.New("--timezone only applies to a cron trigger")
	case ch("params") && f.params != "" && !json.Valid([]byte(f.params)):
		return errors.New("invalid value for --params: not valid JSON")
	case ch("max-retries") && f.maxRetries < 0:
		return errors.New("invalid value for --max-retries: must not be negative")
	case ch("max-runs") && f.maxRuns < 0:
		return errors.New("invalid value for --max-runs: must not be negative")
	}
	f.parsedDurations = map[string]fsm.Duration{}
	for _, name := range []string{"catchup-window", "retry-backoff", "timeout", "jitter"} {
		if !ch(name) {
			continue
		}
		d, err := fsm.ParseDuration(*f.durations[name])
		if err != nil {
			return fmt.Errorf("invalid value for --%s: %q is not a duration such as 90s or 1h", name, *f.durations[name])
		}
		f.parsedDurations[name] = d
	}
	f.parsedTimes = map[string]*time.Time{}
	for _, name := range []string{"start-at", "end-at"} {
		if !ch(name) {
			continue
		}
		t, err := parseOptionalTime(*f.times[name])
		if err != nil {
			return fmt.Errorf("invalid value for --%s: %w", name, err)
		}
		f.parsedTimes[name] = t
	}
	return nil
}

// newSchedule is the starting point of a schedule built from flags: the
// server's default policy, so that every field sent is meaningful.
func newSchedule() *client.Schedule {
	return &client.Schedule{Schedule: fsm.Schedule{Policy: fsm.DefaultPolicy}}
}

// readFile decodes the -f file; fields it leaves out keep the defaults of
// newSchedule.
func (f *scheduleFlags) readFile(inv *cli.Invocation) (*client.Schedule, error) {
	var r io.Reader = inv.Env.Stdin
	if f.file != "-" {
		fh, err := os.Open(f.file)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	s := newSchedule()
	dec := json.NewDecoder(r)
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.file, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("read %s: more than one JSON value", f.file)
	}
	return s, nil
}

// apply sets the fields of s named by the flags given (after parse). It
// fails only when --timezone is given alone and s has no cron trigger.
func (f *scheduleFlags) apply(s *client.Schedule) error {
	ch := f.fs.Changed
	set := func(name string, dst *string, v string) {
		if ch(name) {
			*dst = v
		}
	}
	set("id", &s.ID, f.id)
	set("handler", &s.Handler, f.handler)
	set("method", &s.Method, f.method)
	set("overlap", &s.Policy.Overlap, f.overlap)
	if ch("params") {
		s.Params = nil
		if f.params != "" {
			s.Params = json.RawMessage(f.params)
		}
	}
	if err := f.applyTrigger(&s.Trigger); err != nil {
		return err
	}
	if ch("max-retries") {
		s.Policy.MaxRetries = f.maxRetries
	}
	for name, dst := range map[string]*fsm.Duration{
		"catchup-window": &s.Policy.CatchupWindow, "retry-backoff": &s.Policy.RetryBackoff,
		"timeout": &s.Policy.Timeout, "jitter": &s.Policy.Jitter,
	} {
		if d, ok := f.parsedDurations[name]; ok {
			*dst = d
		}
	}
	for name, dst := range map[string]**time.Time{"start-at": &s.StartAt, "end-at": &s.EndAt} {
		if t, ok := f.parsedTimes[name]; ok {
			*dst = t
		}
	}
	if ch("max-runs") {
		s.MaxRuns = f.maxRuns
	}
	if ch("paused") {
		s.Paused = f.paused
	}
	return nil
}

func (f *scheduleFlags) applyTrigger(sp *trigger.Spec) error {
	ch := f.fs.Changed
	switch {
	case ch("cron"):
		tz := ""
		if sp.Kind() == "cron" {
			tz = sp.Timezone
		}
		if ch("timezone") {
			tz = f.timezone
		}
		*sp = trigger.Spec{Cron: f.cron, Timezone: tz}
	case ch("every"):
		*sp = trigger.Spec{Every: f.every}
	case ch("at"):
		*sp = trigger.Spec{At: f.at}
	case ch("timezone") && sp.Kind() != "cron":
		return errors.New("--timezone only applies to a cron trigger, and the schedule has none")
	case ch("timezone"):
		sp.Timezone = f.timezone
	}
	return nil
}

func parseOptionalTime(v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("%q is not an RFC 3339 time such as 2026-11-28T01:30:00Z", v)
	}
	return &t, nil
}
