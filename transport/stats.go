package transport

import "sync/atomic"

// Stats are the cumulative counters of a Listener or Conn. They are meant
// for metrics and tests; every field only grows except Peers.
type Stats struct {
	// Received counts messages decoded and handed to Recv's buffer.
	Received uint64 `json:"received"`
	// Sent counts frames handed to the socket without error (which, per
	// notes/zmq4.md row b, does not prove delivery).
	Sent uint64 `json:"sent"`
	// DroppedMalformed counts inbound frames that did not decode: bad JSON,
	// wrong version, unknown type, missing fields, unexpected frame layout.
	DroppedMalformed uint64 `json:"dropped_malformed"`
	// DroppedTooLarge counts inbound frames over wire.MaxFrameBytes.
	DroppedTooLarge uint64 `json:"dropped_too_large"`
	// DroppedQueueFull counts Sends refused with ErrQueueFull.
	DroppedQueueFull uint64 `json:"dropped_queue_full"`
	// SendErrors counts frames the writer failed to hand to the socket,
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
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received:         c.received.Load(),
		Sent:             c.sent.Load(),
		DroppedMalformed: c.malformed.Load(),
		DroppedTooLarge:  c.tooLarge.Load(),
		DroppedQueueFull: c.queueFull.Load(),
		SendErrors:       c.sendErrors.Load(),
		KilledConns:      c.killed.Load(),
	}
}
