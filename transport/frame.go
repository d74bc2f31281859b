package transport

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/schedulezero/schedulezero/wire"
)

// HardFrameLimit is the largest ZMTP frame the ZMQ transport lets zmq4
// read. zmq4 allocates whatever size a frame header announces (notes/zmq4.md
// row k); a connection announcing a bigger frame is closed before the
// allocation. Frames between wire.MaxFrameBytes and this limit are read and
// then dropped (Stats.DroppedTooLarge), so one bad message does not cost a
// connection.
const HardFrameLimit = 4 * wire.MaxFrameBytes

// decodeFrame decodes a frame, which may be a batch, appending its
// messages to dst, and counts what it drops: a frame over
// wire.MaxFrameBytes, a malformed frame, and each invalid element of a
// batch.
func decodeFrame(dst []wire.Message, frame []byte, st *counters) []wire.Message {
	out, dropped, err := wire.DecodeFrame(dst, frame)
	switch {
	case errors.Is(err, wire.ErrTooLarge):
		st.tooLarge.Add(1)
	case err != nil:
		st.malformed.Add(1)
	default:
		st.frames.Add(1)
	}
	st.malformed.Add(uint64(dropped))
	st.received.Add(uint64(len(out) - len(dst)))
	return out
}

// payload returns the single payload frame of a ZeroMQ message, skipping
// one empty delimiter frame if the peer sent one (REQ-style framing). Any
// other layout is malformed.
func payload(frames [][]byte) ([]byte, bool) {
	if len(frames) == 2 && len(frames[0]) == 0 {
		frames = frames[1:]
	}
	if len(frames) != 1 {
		return nil, false
	}
	return frames[0], true
}

// batchFeatures is what this package announces and accepts: batching.
// Shared and never modified.
var batchFeatures = []string{wire.FeatureBatch}

func hasBatch(features []string) bool { return slices.Contains(features, wire.FeatureBatch) }

// outFrame is one encoded message, or a raw frame from a test, waiting to
// be written. A pooled frame's buffer goes back to framePool once written.
// A raw frame is never put into a batch: it need not be a JSON object.
type outFrame struct {
	b    []byte
	pool *[]byte
	raw  bool
}

// maxPooledFrame bounds the buffers kept in framePool, so that one large
// message does not pin its buffer.
const maxPooledFrame = 16 << 10

var framePool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// encodeFrame encodes m into a pooled buffer.
//
// Allocation budget: 0 allocations in steady state (the pool's buffers are
// reused once warm).
func encodeFrame(m *wire.Message) (outFrame, error) {
	bp := framePool.Get().(*[]byte)
	b, err := wire.AppendEncode((*bp)[:0], m)
	if err != nil {
		framePool.Put(bp)
		return outFrame{}, err
	}
	*bp = b
	return outFrame{b: b, pool: bp}, nil
}

// release returns a pooled frame's buffer; the frame must not be used
// afterwards.
func (f outFrame) release() {
	if f.pool != nil && cap(*f.pool) <= maxPooledFrame {
		framePool.Put(f.pool)
	}
}

func releaseAll(fs []outFrame) {
	for i := range fs {
		fs[i].release()
		fs[i] = outFrame{}
	}
}

// fitBatch returns how many frames from the head of fs fit into one batch
// frame (at least one: a frame that fits nowhere goes alone).
func fitBatch(fs []outFrame) int {
	n, payloadLen := 0, 0
	for n < len(fs) && n < wire.MaxBatchMessages && !fs[n].raw {
		if wire.BatchFrameSize(n+1, payloadLen+len(fs[n].b)) > wire.MaxFrameBytes {
			break
		}
		payloadLen += len(fs[n].b)
		n++
	}
	return max(n, 1)
}

// appendWire appends to dst the frame that carries fs on the wire: fs[0]
// itself when alone, else a batch of them.
func appendWire(dst []byte, fs []outFrame) []byte {
	if len(fs) == 1 {
		return append(dst, fs[0].b...)
	}
	dst = append(dst, wire.BatchHead...)
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.b...)
	}
	return append(dst, wire.BatchTail...)
}

// connFeatures is the feature negotiation of one handler-side connection:
// it announces batching in hello unless disabled, and batches once the
// node's latest welcome has echoed it.
type connFeatures struct {
	offer bool
	batch atomic.Bool
}

// stampHello sets the features of a hello.
func (f *connFeatures) stampHello(m *wire.Message) {
	if f.offer {
		m.Features = batchFeatures
	} else {
		m.Features = nil
	}
}

// observe notes the features of a welcome.
func (f *connFeatures) observe(m *wire.Message) {
	if m.Type == wire.TypeWelcome {
		f.batch.Store(f.offer && hasBatch(m.Features))
	}
}

// frameSender is a Conn's way of writing one encoded frame.
type frameSender interface {
	// sendEncoded writes frame, which carries n messages. On error the
	// sender may still hold frame.
	sendEncoded(ctx context.Context, frame []byte, n int) error
}

// sendMessages is the Send and SendBatch of handler-side connections: it
// encodes ms into pooled buffers and writes them, in batches when
// negotiated. A message that does not encode is skipped and its error
// returned after the others have been sent.
func sendMessages(ctx context.Context, feat *connFeatures, s frameSender, ms []wire.Message) error {
	var arr [32]outFrame
	fs := arr[:0]
	var encErr error
	for i := range ms {
		m := &ms[i]
		var hello wire.Message
		if m.Type == wire.TypeHello {
			hello = *m // stamp a copy: ms belongs to the caller
			feat.stampHello(&hello)
			m = &hello
		}
		f, err := encodeFrame(m)
		if err != nil {
			encErr = cmp.Or(encErr, err)
			continue
		}
		fs = append(fs, f)
	}
	return cmp.Or(writeFrames(ctx, feat.batch.Load(), s, fs), encErr)
}

// writeFrames writes fs, as batches of what fits when batch is set.
// Frames are released once written; after an error the failed frame is
// left to the garbage collector and the unsent ones are released.
func writeFrames(ctx context.Context, batch bool, s frameSender, fs []outFrame) error {
	for len(fs) > 0 {
		n := 1
		if batch {
			n = fitBatch(fs)
		}
		var err error
		if n == 1 {
			err = s.sendEncoded(ctx, fs[0].b, 1)
		} else {
			bp := framePool.Get().(*[]byte)
			*bp = appendWire((*bp)[:0], fs[:n])
			if err = s.sendEncoded(ctx, *bp, n); err == nil {
				outFrame{b: *bp, pool: bp}.release()
			}
		}
		if err != nil {
			releaseAll(fs[n:])
			return err
		}
		releaseAll(fs[:n])
		fs = fs[n:]
	}
	return nil
}
