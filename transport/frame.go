package transport

import (
	"github.com/schedulezero/schedulezero/wire"
)

// HardFrameLimit is the largest ZMTP frame the ZMQ transport lets zmq4
// read. zmq4 allocates whatever size a frame header announces (notes/zmq4.md
// row k); a connection announcing a bigger frame is closed before the
// allocation. Frames between wire.MaxFrameBytes and this limit are read and
// then dropped (Stats.DroppedTooLarge), so one bad message does not cost a
// connection.
const HardFrameLimit = 4 * wire.MaxFrameBytes

// decodeFrame enforces wire.MaxFrameBytes before decoding and counts what it
// drops; ok is false for a dropped frame.
func decodeFrame(frame []byte, st *counters) (m wire.Message, ok bool) {
	if len(frame) > wire.MaxFrameBytes {
		st.tooLarge.Add(1)
		return m, false
	}
	m, err := wire.Decode(frame)
	if err != nil {
		st.malformed.Add(1)
		return m, false
	}
	st.received.Add(1)
	return m, true
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
