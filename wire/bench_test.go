package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Benchmarks of the codec against encoding/json on the messages of the
// dispatch loop, per message and per batch:
//
//	go test ./wire -run '^$' -bench Wire_ -benchmem
//
// Allocation budgets (Go 1.26, linux/amd64), which a change should not
// exceed without a reason:
//   - Encode into a reused buffer: 0 allocs for every type.
//   - Decode dispatch: 7 allocs (run_id, schedule_id, method, params and
//     three times); accepted: 1 (run_id); the Message itself is returned by
//     value.
//   - Batch of 64 accepted: encode 0 allocs; decode 64 allocs (one run_id
//     each) into a reused slice.

func benchDispatch() Message {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	return Message{
		Type: TypeDispatch, RunID: "sched-nightly-report/2026-11-27T10:00:00Z", ScheduleID: "nightly-report",
		Method: "generate", Params: json.RawMessage(`{"format":"pdf","pages":` + strings.Repeat("1", 64) + `}`),
		NominalAt: &now, FiredAt: &now, Deadline: &now, Attempt: 1, Term: 3,
	}
}

func benchAccepted() Message {
	return Message{Type: TypeAccepted, RunID: "sched-nightly-report/2026-11-27T10:00:00Z", Attempt: 1, Term: 3}
}

func BenchmarkWire_Encode(b *testing.B) {
	for name, m := range map[string]Message{"dispatch": benchDispatch(), "accepted": benchAccepted()} {
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = AppendEncode(buf[:0], &m); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			m.V = Version
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWire_Decode(b *testing.B) {
	for name, m := range map[string]Message{"dispatch": benchDispatch(), "accepted": benchAccepted()} {
		frame, err := Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := refDecode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWire_Batch measures one op = one batch of n messages: encoding
// each into a shared buffer and wrapping them (what a sender does), and
// decoding the frame into a reused slice (what a receiver does).
func BenchmarkWire_Batch(b *testing.B) {
	for _, n := range []int{16, 64} {
		for name, m := range map[string]Message{"dispatch": benchDispatch(), "accepted": benchAccepted()} {
			var frame []byte
			b.Run(fmt.Sprintf("encode/%s/n=%d", name, n), func(b *testing.B) {
				enc := make([]byte, 0, 64<<10)
				frames := make([][]byte, n)
				out := make([]byte, 0, 64<<10)
				b.ReportAllocs()
				for b.Loop() {
					enc = enc[:0]
					for i := range frames {
						start := len(enc)
						var err error
						if enc, err = AppendEncode(enc, &m); err != nil {
							b.Fatal(err)
						}
						frames[i] = enc[start:]
					}
					out = AppendBatch(out[:0], frames...)
				}
				frame = out
			})
			b.Run(fmt.Sprintf("decode/%s/n=%d", name, n), func(b *testing.B) {
				var msgs []Message
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if msgs, _, err = DecodeFrame(msgs[:0], frame); err != nil || len(msgs) != n {
						b.Fatal(err, len(msgs))
					}
				}
			})
		}
	}
}
