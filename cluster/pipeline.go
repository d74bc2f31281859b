package cluster

import (
	"sync"

	"github.com/hashicorp/raft"
)

// transport is Raft's TCP NetworkTransport with a pipeline that cannot
// wedge (DESIGN.md §1). Every other method is the embedded transport's, so
// Raft still finds WithClose and WithPreVote on it.
//
// The wedge in hashicorp/raft v1.7.3: the transport's pipeline decoder
// hands each decoded response to Raft's pipelineDecode over an unbuffered
// (MaxRPCsInFlight-2) channel. When a follower answers with a newer term or
// Success=false, pipelineDecode returns and nobody reads that channel any
// more; the decoder parks on it, the next pipelined send parks on the
// decoder's in-progress channel, and pipelineReplicate — which would close
// the pipeline — never returns. Replication to that follower stops while
// heartbeats continue, and Raft.Shutdown waits for it forever
// (grafana/pyroscope#5518). safePipeline drains the decoder into its own
// unbounded queue, so the decoder always returns for the next response,
// every send completes, and pipelineReplicate sees its finish channel and
// closes the pipeline.
type transport struct {
	*raft.NetworkTransport
}

var (
	_ raft.Transport   = (*transport)(nil)
	_ raft.WithClose   = (*transport)(nil)
	_ raft.WithPreVote = (*transport)(nil)
)

// AppendEntriesPipeline wraps the transport's pipeline in a safePipeline.
func (t *transport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err // unwrapped: Raft compares it with ErrPipelineReplicationNotSupported
	}
	return newSafePipeline(p), nil
}

// safePipeline forwards an AppendPipeline's completed futures through an
// unbounded queue. The queue stays short: once Raft stops consuming it
// also stops sending after at most a few more requests (its send loop
// selects the closed finish channel), then closes the pipeline.
type safePipeline struct {
	raft.AppendPipeline
	out    chan raft.AppendFuture
	closed chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newSafePipeline(p raft.AppendPipeline) *safePipeline {
	sp := &safePipeline{
		AppendPipeline: p,
		out:            make(chan raft.AppendFuture),
		closed:         make(chan struct{}),
		done:           make(chan struct{}),
	}
	go sp.pump()
	return sp
}

// Consumer returns the channel Raft reads completed futures from.
func (p *safePipeline) Consumer() <-chan raft.AppendFuture { return p.out }

// Close closes the wrapped pipeline and waits for the pump to exit. It is
// idempotent.
func (p *safePipeline) Close() error {
	err := p.AppendPipeline.Close()
	p.once.Do(func() { close(p.closed) })
	<-p.done
	return err // unwrapped: Raft only logs it
}

// pump moves futures from the wrapped pipeline to out, queueing them while
// nobody reads out, until Close.
func (p *safePipeline) pump() {
	defer close(p.done)
	in := p.AppendPipeline.Consumer()
	var queue []raft.AppendFuture
	for {
		var out chan raft.AppendFuture
		var head raft.AppendFuture
		if len(queue) > 0 {
			out, head = p.out, queue[0]
		}
		select {
		case f := <-in:
			queue = append(queue, f)
		case out <- head:
			queue[0] = nil
			queue = queue[1:]
		case <-p.closed:
			return
		}
	}
}
