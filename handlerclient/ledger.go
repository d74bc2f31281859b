package handlerclient

import (
	"context"
	"sort"
	"time"

	"github.com/schedulezero/schedulezero/wire"
)

// dedupeWindow is how many finished and acknowledged run ids a process
// remembers, besides every run in flight or with an unacknowledged result.
const dedupeWindow = 100_000

// runState is where a run is in this process.
type runState int

const (
	runStarting runState = iota // BeforeRunFunc is running; not yet accepted
	runRunning                  // accepted, HandlerFunc running
	runFinished                 // result waiting for result_ack
	runAcked                    // remembered for de-duplication only
)

// run is the record of one run id. Owned by the session loop; the job
// goroutine only reads job and never touches the record.
type run struct {
	id  string
	job *Job
	// attempt and term are what accepted and result report: those of the
	// latest dispatch of this run id, which may be newer than the one
	// that started the execution.
	attempt int
	term    uint64
	state   runState
	conn    *conn // the connection of the latest dispatch
	cancel  context.CancelCauseFunc
	result  wire.Message // runFinished only
	sentAt  time.Time    // when result was last queued
	retired uint64       // ring sequence number while runAcked
}

// ledger de-duplicates dispatches by run id. It holds every run that is
// starting, running or waiting for its result's acknowledgement, plus the
// last dedupeWindow acknowledged ones in a ring.
type ledger struct {
	runs    map[string]*run
	pending map[string]*run // runFinished
	ring    []ringSlot
	next    int
	seq     uint64
}

type ringSlot struct {
	id  string
	seq uint64
}

func newLedger(window int) *ledger {
	return &ledger{runs: make(map[string]*run), pending: make(map[string]*run), ring: make([]ringSlot, window)}
}

func (l *ledger) get(id string) *run { return l.runs[id] }

// maxHelloRunning bounds the run IDs listed in one hello.
const maxHelloRunning = 1024

// unfinished returns up to limit IDs, sorted, of the runs that are starting,
// running or waiting for their result's acknowledgement (announced in
// hello so a new leader sends an interrupted run back here).
func (l *ledger) unfinished(limit int) []string {
	var ids []string
	for id, r := range l.runs {
		if r.state != runAcked {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	return ids
}

// put records a new run, replacing an acknowledged one of the same id.
func (l *ledger) put(r *run) { l.runs[r.id] = r }

// remove forgets r (its job was never accepted).
func (l *ledger) remove(r *run) {
	if l.runs[r.id] == r {
		delete(l.runs, r.id)
	}
	delete(l.pending, r.id)
}

// finish stores r's result until it is acknowledged.
func (l *ledger) finish(r *run, result wire.Message) {
	r.state, r.result = runFinished, result
	l.pending[r.id] = r
}

// retire drops r's result once acknowledged and keeps its id in the ring;
// the oldest id in the ring is forgotten unless its run was started again.
func (l *ledger) retire(r *run) {
	delete(l.pending, r.id)
	l.seq++
	r.state, r.result, r.retired = runAcked, wire.Message{}, l.seq
	old := l.ring[l.next]
	if o := l.runs[old.id]; o != nil && o.state == runAcked && o.retired == old.seq {
		delete(l.runs, old.id)
	}
	l.ring[l.next] = ringSlot{id: r.id, seq: l.seq}
	l.next = (l.next + 1) % len(l.ring)
}
