package transport

import "sync/atomic"

// Stats are the cumulative counters of a Listener or Conn. They are meant
// for metrics and tests; every field only grows except Peers.
type Stats struct {
	// Received counts messages decoded and handed to Recv's buffer;
	// ReceivedFrames the frames they came in (a batch frame carries many).
	Received       uint64 `json:"received"`
	ReceivedFrames uint64 `json:"received_frames"`
	// Sent counts messages handed to the socket without error (which, per
	// notes/zmq4.md row b, does not prove delivery), whether alone in a
	// frame or in a batch.
	Sent uint64 `json:"sent"`
	// SentBatches counts batch frames written; BatchedMessages the
	// messages they carried (included in Sent). Frames written =
	// Sent - BatchedMessages + SentBatches.
	SentBatches     uint64 `json:"sent_batches"`
	BatchedMessages uint64 `json:"batched_messages"`
	// DroppedMalformed counts inbound frames that did not decode (bad JSON,
	// wrong version, unknown type, missing fields, unexpected frame
	// layout) and invalid messages skipped inside batch frames.
	DroppedMalformed uint64 `json:"dropped_malformed"`
	// DroppedTooLarge counts inbound frames over wire.MaxFrameBytes.
	DroppedTooLarge uint64 `json:"dropped_too_large"`
	// DroppedQueueFull counts Sends refused with ErrQueueFull.
	DroppedQueueFull uint64 `json:"dropped_queue_full"`
	// SendErrors counts messages the writer failed to hand to the socket,
	// including those discarded with the queue of the failed peer.
	SendErrors uint64 `json:"send_errors"`
	// KilledConns counts connections the transport closed itself: write
	// timeout, handshake timeout or a frame over HardFrameLimit.
	KilledConns uint64 `json:"killed_conns"`
	// Peers is the number of peers with a send queue (Listener only).
	Peers int `json:"peers"`
}

// counters is the live, concurrently updated form of Stats.
type counters struct {
	received, sent, malformed, tooLarge, queueFull, sendErrors, killed atomic.Uint64
	batches, batched, frames                                           atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received:         c.received.Load(),
		ReceivedFrames:   c.frames.Load(),
		Sent:             c.sent.Load(),
		SentBatches:      c.batches.Load(),
		BatchedMessages:  c.batched.Load(),
		DroppedMalformed: c.malformed.Load(),
		DroppedTooLarge:  c.tooLarge.Load(),
		DroppedQueueFull: c.queueFull.Load(),
		SendErrors:       c.sendErrors.Load(),
		KilledConns:      c.killed.Load(),
	}
}

// countSent counts a frame of n messages written.
func (c *counters) countSent(n int) {
	c.sent.Add(uint64(n))
	if n > 1 {
		c.batches.Add(1)
		c.batched.Add(uint64(n))
	}
}
