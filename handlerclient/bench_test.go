package handlerclient_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// BenchmarkClient_Throughput measures short jobs per second through the
// SDK over real ZeroMQ: a minimal node on a transport.ZMQListener
// registers the instances, keeps each one's credit (Capacity) filled with
// dispatches and acknowledges every result; the instances run a method
// that returns at once. One op is one job: dispatch, accepted, result and
// result_ack, i.e. four ZeroMQ messages at the node, which is what a
// leader pays per fire. batch=off disables batching on both sides.
//
//	go test ./handlerclient -run '^$' -bench Client_Throughput -benchmem
//
// Allocation budget per job, node and SDK together (Go 1.26.8,
// linux/amd64): about 35 allocations and 2.7 KB with batching (one
// instance), 127 and 8 KB without (it was 177 and 13.9 KB before batching,
// the codec and the loop's turn batching). The SDK's share is the run
// record, the Job, the job's context and goroutine, the result's times and
// decoding the dispatch; the node's the run id and decoding accepted and
// result; zmq4's share shrinks with the messages per frame.
//
// Measured on a shared 2-vCPU machine: 10-20k jobs/s batched (40-80k
// messages/s at the node) against 4-6k unbatched and 2-5k before.
func BenchmarkClient_Throughput(b *testing.B) {
	for _, instances := range []int{1, 4} {
		for _, batch := range []bool{false, true} {
			name := fmt.Sprintf("instances=%d/batch=%s", instances, map[bool]string{false: "off", true: "on"}[batch])
			b.Run(name, func(b *testing.B) { benchThroughput(b, instances, 64, batch, false) })
		}
	}
	// With a BeforeRunFunc (szhandler's journal, internal/bench's accept
	// clock) accepted waits for the hook in the job's goroutine.
	b.Run("instances=4/batch=on/before-run", func(b *testing.B) { benchThroughput(b, 4, 64, true, true) })
}

func benchThroughput(b *testing.B, instances, capacity int, batch, hook bool) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	l, err := transport.ListenZMQ(ctx, "tcp://127.0.0.1:0", transport.ListenerConfig{
		DisableBatching: !batch, QueueSize: 4 * capacity, RecvQueue: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	for i := range instances {
		cfg := handlerclient.Config{
			Name: "bench", Instance: "i" + strconv.Itoa(i), Servers: []string{l.Endpoint()}, Capacity: capacity,
			Dialer: transport.ZMQDialer{Config: transport.DialerConfig{DisableBatching: !batch}},
		}
		if hook {
			cfg.BeforeRunFunc = func(*handlerclient.Job) error { return nil }
		}
		c, err := handlerclient.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Handle("noop", func(context.Context, *handlerclient.Job) (any, error) { return nil, nil })
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	defer wg.Wait()
	defer cancel()

	node := &benchNode{l: l, capacity: capacity, credit: map[string]int{}, target: b.N}
	node.waitHellos(ctx, b, instances)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	node.run(ctx, b)
	elapsed := time.Since(start)
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(float64(st.Sent+st.Received)/elapsed.Seconds(), "node-msgs/s")
	b.ReportMetric(float64(st.Sent)/float64(max(st.Sent-st.BatchedMessages+st.SentBatches, 1)), "node-msgs/frame")
	b.ReportMetric(float64(st.Received)/float64(max(st.ReceivedFrames, 1)), "sdk-msgs/frame")
}

// benchNode is the node side of BenchmarkClient_Throughput.
type benchNode struct {
	l        *transport.ZMQListener
	capacity int
	credit   map[string]int // peer → dispatches it can still take
	target   int
	sent     int
	done     int
}

// waitHellos welcomes instances and fills their credit.
func (n *benchNode) waitHellos(ctx context.Context, b *testing.B, instances int) {
	for len(n.credit) < instances {
		in, err := n.l.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if in.Msg.Type != wire.TypeHello {
			continue
		}
		if _, ok := n.credit[in.Peer]; !ok {
			n.credit[in.Peer] = n.capacity
		}
		welcome := wire.Message{Type: wire.TypeWelcome, NodeID: "n1", Term: 1, HeartbeatMS: 1000, Liveness: 3}
		if err := n.l.Send(ctx, in.Peer, welcome); err != nil {
			b.Fatal(err)
		}
	}
}

// run dispatches until target jobs have completed.
func (n *benchNode) run(ctx context.Context, b *testing.B) {
	for peer := range n.credit {
		n.fill(ctx, b, peer)
	}
	for n.done < n.target {
		in, err := n.l.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if in.Msg.Type != wire.TypeResult {
			continue
		}
		n.done++
		n.credit[in.Peer]++
		if err := n.l.Send(ctx, in.Peer, wire.Message{Type: wire.TypeResultAck, RunID: in.Msg.RunID, Attempt: in.Msg.Attempt}); err != nil {
			b.Fatal(err)
		}
		n.fill(ctx, b, in.Peer)
	}
}

func (n *benchNode) fill(ctx context.Context, b *testing.B, peer string) {
	for n.credit[peer] > 0 && n.sent < n.target {
		n.sent++
		d := wire.Message{Type: wire.TypeDispatch, RunID: "run-" + strconv.Itoa(n.sent), ScheduleID: "s",
			Method: "noop", Attempt: 1, Term: 1}
		if err := n.l.Send(ctx, peer, d); err != nil {
			b.Fatal(err)
		}
		n.credit[peer]--
	}
}
