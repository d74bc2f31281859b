package jepsen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/trigger"
)

// Fire workload parameters.
const (
	// FireHandlers is the number of szhandler processes (h1, h2).
	FireHandlers = 2
	// FireHandlerName is the handler name the timed schedules target.
	FireHandlerName = "jepsen"
	// FireHandlerCommand is the governor's handler template.
	FireHandlerCommand = "szhandler --name " + FireHandlerName +
		" --servers {servers} --journal {dir}/journal.jsonl --drain-timeout 2s"
	// DefaultFireGrace is the every-slot grace with the "test" profile.
	DefaultFireGrace = 10 * time.Second
	// FirePrefix starts every timed schedule ID (disjoint from jk-NN).
	FirePrefix       = "jf-"
	firePollInterval = 3 * time.Second
	fireHandlersWait = 30 * time.Second
	fireDrainWait    = 3 * time.Second
	journalFile      = "journal.jsonl"
)

// fireWorkload creates the timed schedules, deletes one mid-run, polls the
// runs, pauses the schedules at the end and gathers journals and runs.
type fireWorkload struct {
	rng *rand.Rand
	cl  *cluster
	f   *FireHistory
	dir string
	mu  sync.Mutex // guards f.Polled, f.Errors and the delete fields
}

func newFireWorkload(seed int64, cl *cluster, dir string, grace time.Duration) *fireWorkload {
	return &fireWorkload{
		rng: rand.New(rand.NewPCG(uint64(seed), 0x66697265)), // "fire"
		cl:  cl, dir: dir,
		f: &FireHistory{
			WallMinusMonoNS: time.Now().UnixNano() - governor.MonotonicNS(),
			GraceNS:         int64(grace),
			Polled:          map[string]RunRecord{},
			NodeRuns:        map[string][]RunRecord{},
		},
	}
}

func (w *fireWorkload) errorf(format string, args ...any) {
	w.mu.Lock()
	w.f.Errors = append(w.f.Errors, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// setup waits for both handlers to be live, then creates 4 timed
// schedules (seeded interval, method and params).
func (w *fireWorkload) setup(ctx context.Context) error {
	if err := w.cl.waitFor(ctx, fireHandlersWait, func() bool { return w.liveHandlers(ctx) >= FireHandlers }); err != nil {
		return fmt.Errorf("jepsen: fire workload: %d handlers live: %w", w.liveHandlers(ctx), err)
	}
	for i := range 4 {
		s := FireSchedule{ID: fmt.Sprintf("%s%d", FirePrefix, i+1), Every: []string{"1s", "2s"}[w.rng.IntN(2)]}
		if i == 0 {
			s.Every = "1s" // the schedule deleted mid-run
		}
		if w.rng.IntN(2) == 0 {
			s.Method, s.Params = "sleep", fmt.Sprintf(`{"ms":%d}`, w.rng.IntN(301))
		} else {
			s.Method, s.Params = "echo", fmt.Sprintf(`{"n":%d}`, i)
		}
		if err := w.create(ctx, &s); err != nil {
			return err
		}
		w.f.Schedules = append(w.f.Schedules, s)
	}
	return nil
}

func (w *fireWorkload) liveHandlers(ctx context.Context) int {
	leader := w.cl.Leader(ctx)
	if leader == "" {
		return 0
	}
	hs, err := w.cl.API(leader).ListHandlers(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, h := range hs {
		if h.Name == FireHandlerName && h.State == "live" {
			n++
		}
	}
	return n
}

// create retries until the schedule definitely exists; an already_exists
// after an ambiguous attempt counts, with the ack taken when it was seen.
func (w *fireWorkload) create(ctx context.Context, s *FireSchedule) error {
	spec := &client.Schedule{Schedule: fsm.Schedule{
		ID: s.ID, Handler: FireHandlerName, Method: s.Method, Params: json.RawMessage(s.Params),
		Trigger: trigger.Spec{Every: s.Every},
		Policy: func() fsm.Policy {
			p := fsm.DefaultPolicy // keeps fields the core adds (history_limit, …) valid
			p.Overlap, p.CatchupWindow = fsm.OverlapAllow, fsm.Duration(time.Hour)
			p.MaxRetries, p.RetryBackoff, p.Timeout = 3, fsm.Duration(time.Second), fsm.Duration(30*time.Second)
			return p
		}(),
	}}
	deadline := time.Now().Add(finalReadBudget)
	for {
		node, err := w.cl.WaitLeader(ctx, 10*time.Second)
		if err == nil {
			var got *client.Schedule
			got, err = w.cl.API(node).CreateSchedule(ctx, spec)
			if client.IsConflict(err) {
				got, err = w.cl.API(node).GetSchedule(ctx, s.ID)
			}
			if err == nil {
				s.Created, s.CreateAckNS, s.Anchor = true, governor.MonotonicNS(), got.Anchor()
				return nil
			}
		}
		if time.Now().After(deadline) || sleepCtx(ctx, 200*time.Millisecond) != nil {
			return fmt.Errorf("jepsen: fire workload: create %s: %w", s.ID, err)
		}
	}
}

// deleteAt deletes the first timed schedule after d, retrying until a
// definite answer (a not_found after an ambiguous attempt is the ack).
func (w *fireWorkload) deleteAt(ctx context.Context, d time.Duration) {
	if sleepCtx(ctx, d) != nil || len(w.f.Schedules) == 0 {
		return
	}
	id := w.f.Schedules[0].ID
	invoke := governor.MonotonicNS()
	var lastErr error
	for attempt := 0; ; attempt++ {
		node := w.cl.Leader(ctx)
		if node == "" {
			node = w.cl.Members()[0]
		}
		err := w.cl.API(node).DeleteSchedule(context.WithoutCancel(ctx), id)
		if err == nil || (attempt > 0 && client.IsNotFound(err)) {
			w.mu.Lock()
			w.f.Schedules[0].DeleteInvokeNS, w.f.Schedules[0].DeleteAckNS = invoke, governor.MonotonicNS()
			w.mu.Unlock()
			return
		}
		lastErr = err
		if sleepCtx(context.WithoutCancel(ctx), 200*time.Millisecond) != nil || attempt > 150 {
			break
		}
	}
	w.mu.Lock()
	w.f.Schedules[0].DeleteInvokeNS, w.f.Schedules[0].DeleteError = invoke, fmt.Sprint(lastErr)
	w.mu.Unlock()
}

// poll lists the timed schedules' runs linearizably every
// firePollInterval until ctx ends, merging them into Polled.
func (w *fireWorkload) poll(ctx context.Context) {
	for sleepCtx(ctx, firePollInterval) == nil {
		node := w.cl.Leader(ctx)
		if node == "" {
			continue
		}
		for _, s := range w.f.Schedules {
			runs, err := w.listRuns(ctx, node, s.ID, false)
			if err != nil {
				continue
			}
			w.mu.Lock()
			for _, r := range runs {
				w.f.Polled[r.ID] = r
			}
			w.mu.Unlock()
		}
	}
}

// pauseAll pauses every remaining timed schedule so that the cluster can
// quiesce, then lets in-flight executions finish.
func (w *fireWorkload) pauseAll(ctx context.Context) {
	w.f.FireEndNS = governor.MonotonicNS()
	for _, s := range w.f.Schedules {
		if s.DeleteInvokeNS != 0 {
			continue
		}
		deadline := time.Now().Add(finalReadBudget)
		for {
			node := w.cl.Leader(ctx)
			var err error
			if node != "" {
				_, err = w.cl.API(node).PauseSchedule(ctx, s.ID)
			} else {
				err = fmt.Errorf("no leader")
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) || sleepCtx(ctx, 200*time.Millisecond) != nil {
				w.errorf("pause %s: %v", s.ID, err)
				break
			}
		}
	}
	_ = sleepCtx(ctx, fireDrainWait)
}

// finalRuns reads the runs of every timed schedule from every member
// locally and through the leader linearizably, then the journals.
func (w *fireWorkload) finalRuns(ctx context.Context, leader string) {
	for _, id := range w.cl.Members() {
		var all []RunRecord
		for _, s := range w.f.Schedules {
			runs, err := w.listRuns(ctx, id, s.ID, true)
			if err != nil {
				w.errorf("runs of %s via %s (stale): %v", s.ID, id, err)
				continue
			}
			all = append(all, runs...)
		}
		w.f.NodeRuns[id] = all
	}
	if leader == "" {
		leader = w.cl.Leader(ctx)
	}
	if leader != "" {
		for _, s := range w.f.Schedules {
			runs, err := w.listRuns(ctx, leader, s.ID, false)
			if err != nil {
				w.errorf("runs of %s via leader %s: %v", s.ID, leader, err)
				continue
			}
			w.f.LeaderRuns = append(w.f.LeaderRuns, runs...)
		}
	} else {
		w.errorf("no leader for the final linearizable run listing")
	}
	w.readJournals()
}

// listRuns pages through GET /v1/runs?schedule_id=ID on node.
func (w *fireWorkload) listRuns(ctx context.Context, node, scheduleID string, stale bool) ([]RunRecord, error) {
	w.cl.mu.Lock()
	addr := w.cl.addrs[node]
	w.cl.mu.Unlock()
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	var out []RunRecord
	cursor := ""
	for range 1000 {
		q := url.Values{"schedule_id": {scheduleID}, "limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if stale {
			q.Set("stale", "true")
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, addr+"/v1/runs?"+q.Encode(), nil)
		if err != nil {
			cancel()
			return nil, err
		}
		resp, err := w.cl.hc.Do(req)
		if err != nil {
			cancel()
			return nil, err
		}
		var page struct {
			Runs       []RunRecord `json:"runs"`
			NextCursor string      `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /v1/runs: status %d", resp.StatusCode)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, page.Runs...)
		if page.NextCursor == "" || len(page.Runs) == 0 {
			return out, nil
		}
		cursor = page.NextCursor
	}
	return out, fmt.Errorf("GET /v1/runs: too many pages")
}

// readJournals reads <dir>/handlers/h*/journal.jsonl.
func (w *fireWorkload) readJournals() {
	for h := 1; h <= FireHandlers; h++ {
		id := fmt.Sprintf("h%d", h)
		path := filepath.Join(w.dir, "handlers", id, journalFile)
		f, err := os.Open(path)
		if err != nil {
			w.f.JournalErrors = append(w.f.JournalErrors, err.Error())
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			var l JournalLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				w.f.JournalErrors = append(w.f.JournalErrors, fmt.Sprintf("%s line %d: %v: %q", path, n, err, sc.Text()))
				continue
			}
			l.Handler, l.Line = id, n
			w.f.Journal = append(w.f.Journal, l)
		}
		_ = f.Close()
	}
}

// isFireID reports whether id belongs to the fire workload.
func isFireID(id string) bool { return strings.HasPrefix(id, FirePrefix) }
