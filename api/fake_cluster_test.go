package api

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// fakeCluster is a single-node Cluster backed by a real fsm.FSM: Propose
// stamps the events with the fake clock, encodes them with fsm.Encode and
// applies them at the next log index. Leadership and errors are set by the
// test through the exported-style fields under mu.
type fakeCluster struct {
	clock *clock.Fake
	fsm   *fsm.FSM

	mu        sync.Mutex
	index     uint64
	err       error // returned by every leader-only method when set
	leader    cluster.LeaderInfo
	self      cluster.Self
	ready     bool
	members   []cluster.Member
	calls     []string // leader-only and membership calls, in order
	joinReq   cluster.JoinRequest
	joinedVia string
	restored  []byte
}

var _ Cluster = (*fakeCluster)(nil)

func newFakeCluster(c *clock.Fake) *fakeCluster {
	return &fakeCluster{
		clock:  c,
		fsm:    fsm.New(),
		leader: cluster.LeaderInfo{ID: "n1", HTTPAddr: "127.0.0.1:1"},
		self:   cluster.Self{ID: "n1", State: "leader", LeaderID: "n1", Member: true},
		ready:  true,
		members: []cluster.Member{
			{ID: "n1", HTTPAddr: "127.0.0.1:8888", RaftAddr: "127.0.0.1:4243", ZMQAddr: "tcp://127.0.0.1:4242", Suffrage: "voter", Leader: true},
		},
	}
}

// setErr makes every leader-only method fail with err (nil: succeed).
func (f *fakeCluster) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// setLeader sets what Leader() reports.
func (f *fakeCluster) setLeader(l cluster.LeaderInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leader = l
}

func (f *fakeCluster) setReady(ready bool, self cluster.Self) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready, f.self = ready, self
}

func (f *fakeCluster) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeCluster) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeCluster) Propose(_ context.Context, events ...fsm.Event) ([]fsm.Result, error) {
	if err := f.record("Propose"); err != nil {
		return nil, err
	}
	for i := range events {
		events[i].At = f.clock.Now()
	}
	entry, err := fsm.Encode(events)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.index++
	idx := f.index
	f.mu.Unlock()
	return f.fsm.Apply(idx, entry), nil
}

func (f *fakeCluster) LinearizableRead(context.Context) error { return f.record("LinearizableRead") }

func (f *fakeCluster) FSM() *fsm.FSM { return f.fsm }

func (f *fakeCluster) Self() cluster.Self {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.self
}

func (f *fakeCluster) Leader() cluster.LeaderInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader
}

func (f *fakeCluster) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeCluster) Members(context.Context) ([]cluster.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cluster.Member(nil), f.members...), nil
}

func (f *fakeCluster) AddMember(_ context.Context, req cluster.JoinRequest) error {
	f.mu.Lock()
	f.joinReq = req
	f.mu.Unlock()
	return f.record("AddMember")
}

func (f *fakeCluster) JoinCluster(_ context.Context, memberHTTP string) error {
	f.mu.Lock()
	f.joinedVia = memberHTTP
	f.mu.Unlock()
	return f.record("JoinCluster")
}

func (f *fakeCluster) Leave(context.Context) error { return f.record("Leave") }

func (f *fakeCluster) RemoveMember(_ context.Context, id string) error {
	return f.record("RemoveMember " + id)
}

func (f *fakeCluster) TransferLeadership(_ context.Context, id string) error {
	return f.record("TransferLeadership " + id)
}

func (f *fakeCluster) WriteSnapshot(_ context.Context, w io.Writer) error {
	if err := f.record("WriteSnapshot"); err != nil {
		return err
	}
	_, err := f.fsm.Snapshot().WriteTo(w)
	return err
}

func (f *fakeCluster) RestoreSnapshot(_ context.Context, r io.Reader) error {
	if err := f.record("RestoreSnapshot"); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.restored = data
	f.mu.Unlock()
	return f.fsm.Restore(bytes.NewReader(data))
}
