package transport

import (
	"context"
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
// DEALER, reader goroutine, decode, and back) with a ~350-byte dispatch.
// One op is one round trip; "window" is the number of dispatches in flight.
// The handler side is shaped like the SDK: a reader goroutine hands
// accepted messages to a writer goroutine, which sends whatever has queued
// up with one SendBatch. batch=on negotiates batching (hello/welcome
// features), batch=off disables it on both sides, so the two rows of a
// window show what batching buys.
//
//	go test ./transport -run '^$' -bench ZMQ_RoundTrip -benchmem
//
// Allocation budget per round trip, both sides counted (Go 1.26.8,
// linux/amd64, 2 vCPUs): 61 allocations and 3.7 KB unbatched (it was 83
// and 6.5 KB with encoding/json, unpooled frames and unbuffered reads);
// about 9 allocations and 0.9 KB batched at window 64, where ~50 messages
// share a frame. Unbatched, zmq4 accounts for ~45 of them (a frame slice
// per read, a context per Send and Recv, an errgroup with one or two
// goroutines and a channel per send), wire's Decode for 8 (the strings and
// times of the dispatch, the run id of the accepted), this package for the
// rest (the identity frame, a send request's reply channel); encoding
// allocates nothing (pooled buffers). Batching divides the per-frame share
// by msgs/frame, which grows with the window. A change that moves the
// totals by more than ~10 % deserves a look.
//
// Measured on that machine while shared with other work (ranges over
// runs): window=1 p50 50-80 µs (was 100-190 µs); window=64 34-36k rt/s
// unbatched, 83-110k batched; window=256 23-29k unbatched, 94-147k
// batched.
func BenchmarkZMQ_RoundTrip(b *testing.B) {
	for _, window := range []int{1, 64, 256} {
		for _, batch := range []bool{false, true} {
			name := fmt.Sprintf("window=%d/batch=%s", window, map[bool]string{false: "off", true: "on"}[batch])
			b.Run(name, func(b *testing.B) { benchRoundTrip(b, window, batch) })
		}
	}
}

func benchRoundTrip(b *testing.B, window int, batch bool) {
	ctx := b.Context()
	l, err := ListenZMQ(ctx, "tcp://127.0.0.1:0", ListenerConfig{DisableBatching: !batch, QueueSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	c, err := ZMQDialer{Config: DialerConfig{DisableBatching: !batch}}.Dial(ctx, l.Endpoint(), "bench/1/1")
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
	if err := l.Send(ctx, "bench/1/1", wire.Message{Type: wire.TypeWelcome, Term: 3}); err != nil {
		b.Fatal(err)
	}
	handlerDone := benchHandler(ctx, c)

	dispatch := benchDispatch()
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
	reportLatency(b, lat)
	ls, cs := l.Stats(), c.(*ZMQConn).Stats()
	b.ReportMetric(msgsPerFrame(ls, cs), "msgs/frame")
	_ = c.Close()
	<-handlerDone
}

// benchHandler answers every dispatch on c with accepted, SDK-style: a
// reader goroutine queues the answers and a writer goroutine sends what
// has queued up in one SendBatch. The returned channel is closed once both
// have ended (after c is closed).
func benchHandler(ctx context.Context, c Conn) <-chan struct{} {
	out := make(chan wire.Message, 1024)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for {
			m, err := c.Recv(ctx)
			if err != nil {
				return
			}
			if m.Type == wire.TypeDispatch {
				out <- wire.Message{Type: wire.TypeAccepted, RunID: m.RunID, Attempt: m.Attempt, Term: m.Term}
			}
		}
	}()
	go func() {
		defer close(done)
		batch := make([]wire.Message, 0, 256)
		for m := range out {
			batch = append(batch[:0], m)
		more:
			for len(batch) < cap(batch) {
				select {
				case m, ok := <-out:
					if !ok {
						break more
					}
					batch = append(batch, m)
				default:
					break more
				}
			}
			if err := c.SendBatch(ctx, batch); err != nil {
				for range out { // drain until the reader ends
				}
				return
			}
		}
	}()
	return done
}

func benchDispatch() wire.Message {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	return wire.Message{
		Type: wire.TypeDispatch, RunID: "sched-nightly-report/2026-11-27T10:00:00Z", ScheduleID: "nightly-report",
		Method: "generate", Params: json.RawMessage(`{"format":"pdf","pages":` + strings.Repeat("1", 64) + `}`),
		NominalAt: &now, FiredAt: &now, Deadline: &now, Term: 3,
	}
}

// reportLatency reports round trips per second and the p50 and p99
// latency of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "rt/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// msgsPerFrame is the number of messages per frame, both directions.
func msgsPerFrame(stats ...Stats) float64 {
	var msgs, frames uint64
	for _, s := range stats {
		msgs += s.Sent
		frames += s.Sent - s.BatchedMessages + s.SentBatches
	}
	return float64(msgs) / float64(max(frames, 1))
}
