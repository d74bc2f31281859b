package wire

// FeatureBatch is the protocol feature that allows batch frames. A peer
// sends batch frames only after the other side announced the feature:
// the node after a hello listing it, the handler after a welcome listing it.
const FeatureBatch = "batch"

// MaxBatchMessages bounds the messages in one batch frame; a batch with
// more is malformed as a whole.
const MaxBatchMessages = 1024

// BatchHead and BatchTail enclose the comma-separated encoded messages of
// a batch frame, as AppendBatch writes it; senders that assemble batches
// themselves use them. Receivers accept any JSON object of type "batch"
// with a messages array, in any key order and spacing.
const (
	BatchHead = `{"v":1,"type":"batch","messages":[`
	BatchTail = `]}`
)

// BatchFrameSize is the size of the batch frame AppendBatch writes for n
// encoded messages of total length payload (n ≥ 1).
func BatchFrameSize(n, payload int) int {
	return len(BatchHead) + payload + n - 1 + len(BatchTail)
}

// AppendBatch appends to dst a batch frame carrying frames, each of them
// the encoding of one message (Encode, AppendEncode), and returns the
// extended buffer. The caller keeps len(frames) within MaxBatchMessages
// and BatchFrameSize within MaxFrameBytes, and sends a single message as
// a plain frame rather than a batch of one.
//
// Allocation budget: 0 allocations when cap(dst) suffices.
func AppendBatch(dst []byte, frames ...[]byte) []byte {
	dst = append(dst, BatchHead...)
	for i, f := range frames {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f...)
	}
	return append(dst, BatchTail...)
}
