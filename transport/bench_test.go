package transport

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/wire"
)

// BenchmarkZMQ_RoundTrip measures dispatch → accepted over loopback through
// the full stack (encode, per-peer queue, writer, zmq4 ROUTER, guarded TCP,
// DEALER, reader goroutine, decode, and back) with a ~300-byte dispatch.
// One op is one round trip; "window" is the number of dispatches in flight.
//
// Allocation budget: 85 allocations and 6.5 KB per round trip, both sides
// counted (measured on Go 1.26.8 / linux/amd64, 2 vCPUs: 83 allocs and
// 6.4 KB at window 1 and 64 alike). Of these, zmq4 itself accounts for ~49
// allocs / 3.4 KB (a raw DEALER/ROUTER echo of the same size: a frame slice
// per read, an errgroup and goroutine per send), wire's JSON Encode and
// Decode of dispatch and accepted for ~28 allocs / 2.9 KB, and this package
// for the remaining ~6 (the Inbound, the send request and its reply
// channel, the identity frame). A change that moves the total by more than
// ~10 % deserves a look.
//
//	go test ./transport -run '^$' -bench ZMQ_RoundTrip -benchmem
func BenchmarkZMQ_RoundTrip(b *testing.B) {
	for _, window := range []int{1, 64} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) { benchRoundTrip(b, window) })
	}
}

func benchRoundTrip(b *testing.B, window int) {
	ctx := b.Context()
	l, err := ListenZMQ(ctx, "tcp://127.0.0.1:0", ListenerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	c, err := ZMQDialer{}.Dial(ctx, l.Endpoint(), "bench/1/1")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(ctx, hello("bench/1/1")); err != nil {
		b.Fatal(err)
	}
	if _, err := l.Recv(ctx); err != nil {
		b.Fatal(err)
	}
	handlerDone := make(chan struct{})
	go func() { // the handler: accept every dispatch
		defer close(handlerDone)
		for {
			m, err := c.Recv(ctx)
			if err != nil {
				return
			}
			if err := c.Send(ctx, wire.Message{Type: wire.TypeAccepted, RunID: m.RunID, Attempt: m.Attempt, Term: m.Term}); err != nil {
				return
			}
		}
	}()

	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	dispatch := wire.Message{
		Type: wire.TypeDispatch, RunID: "sched-nightly-report/2026-11-27T10:00:00Z", ScheduleID: "nightly-report",
		Method: "generate", Params: json.RawMessage(`{"format":"pdf","pages":` + strings.Repeat("1", 64) + `}`),
		NominalAt: &now, FiredAt: &now, Deadline: &now, Term: 3,
	}
	sentAt := make([]time.Time, b.N)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	sent, inflight := 0, 0
	for len(lat) < b.N {
		for inflight < window && sent < b.N {
			dispatch.Attempt = sent + 1 // the sequence number, echoed back
			sentAt[sent] = time.Now()
			if err := l.Send(ctx, "bench/1/1", dispatch); err != nil {
				b.Fatal(err)
			}
			sent++
			inflight++
		}
		in, err := l.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(sentAt[in.Msg.Attempt-1]))
		inflight--
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	_ = c.Close()
	<-handlerDone
}
