package governor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// TimelineFile is the name of the timeline in the governor directory.
const TimelineFile = "timeline.jsonl"

// TimelineEvent is one line of timeline.jsonl: a fault or membership
// operation (Kind "fault", from invocation to completion), a supervisor
// event (Kind "process": spawn, exit, failed; Start == End) or a governor
// event (Kind "governor": up, down).
//
// StartMonoNS and EndMonoNS are CLOCK_MONOTONIC readings in nanoseconds
// (system-wide on Linux, so they compare with a test harness's own
// readings); Start and End are the wall clock for humans.
type TimelineEvent struct {
	Seq         int64      `json:"seq"`
	Kind        string     `json:"kind"`
	Op          string     `json:"op"`
	Target      string     `json:"target,omitempty"`
	Groups      [][]string `json:"groups,omitempty"`
	From        []string   `json:"from,omitempty"`
	To          []string   `json:"to,omitempty"`
	PID         int        `json:"pid,omitempty"`
	Detail      string     `json:"detail,omitempty"`
	Error       string     `json:"error,omitempty"`
	StartMonoNS int64      `json:"start_mono_ns"`
	EndMonoNS   int64      `json:"end_mono_ns"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
}

// timeline appends events to timeline.jsonl, one fsynced line each.
type timeline struct {
	clock clock.Clock
	mu    sync.Mutex
	f     *os.File
	seq   int64
}

func openTimeline(path string, c clock.Clock) (*timeline, error) {
	old, err := ReadTimeline(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open timeline: %w", err)
	}
	t := &timeline{clock: c, f: f}
	if len(old) > 0 {
		t.seq = old[len(old)-1].Seq
	}
	return t, nil
}

// begin stamps the start of an operation. A nil timeline (the governor
// failed before opening it) records nothing.
func (t *timeline) begin() TimelineEvent {
	if t == nil {
		return TimelineEvent{}
	}
	return TimelineEvent{StartMonoNS: MonotonicNS(), Start: t.clock.Now().UTC()}
}

// record stamps the end of ev (and its start when unset) and appends it.
// A write error is returned to no one: the timeline is a report, not state.
func (t *timeline) record(ev TimelineEvent) {
	if t == nil {
		return
	}
	ev.EndMonoNS, ev.End = MonotonicNS(), t.clock.Now().UTC()
	if ev.StartMonoNS == 0 {
		ev.StartMonoNS, ev.Start = ev.EndMonoNS, ev.End
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return
	}
	t.seq++
	ev.Seq = t.seq
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if _, err := t.f.Write(append(b, '\n')); err == nil {
		_ = t.f.Sync()
	}
}

func (t *timeline) close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// ReadTimeline parses a timeline.jsonl file. Lines that do not parse (a
// torn last line when the governor died while writing it) are skipped.
func ReadTimeline(path string) ([]TimelineEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []TimelineEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev TimelineEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}
