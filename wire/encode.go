package wire

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/internal/jsonquote"
)

// The encoder is hand-written because it is on the hot path of every
// dispatch, accepted, result and result_ack: encoding/json spends most of
// a message's encode time in reflection and allocates the output. The
// output is what encoding/json.Marshal produces for the same Message minus
// its HTML escaping (<, >, & stay as they are): the same field order, the
// same omitempty rules, the same string escaping (invalid UTF-8 becomes
// \ufffd, U+2028 and U+2029 are escaped), RFC 3339 times and compacted raw
// JSON. FuzzAppendEncode checks exactly that equivalence.

// errRawJSON: params or result is not valid JSON.
var errRawJSON = errors.New("invalid raw JSON value")

// Encode serialises m into a new frame, setting V. It fails for a frame
// over MaxFrameBytes (ErrTooLarge), invalid raw JSON in params or result, and
// times outside years 0-9999.
func Encode(m Message) ([]byte, error) {
	return AppendEncode(nil, &m)
}

// AppendEncode appends the frame of m to dst and returns the extended
// buffer; m is not modified (V is always written as Version). On error dst
// is returned unextended (its spare capacity may have been written). It is
// Encode without allocating when dst has room: callers on the hot path pass
// a pooled buffer.
//
// Allocation budget: 0 allocations when cap(dst) suffices.
func AppendEncode(dst []byte, m *Message) ([]byte, error) {
	start := len(dst)
	b, err := appendMessage(dst, m)
	if err != nil {
		return dst[:start], fmt.Errorf("wire: encode %s: %w", m.Type, err)
	}
	if n := len(b) - start; n > MaxFrameBytes {
		return dst[:start], fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, m.Type, n)
	}
	return b, nil
}

// appendMessage writes the JSON object in Message's field order.
func appendMessage(b []byte, m *Message) ([]byte, error) {
	var err error
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"type":`...)
	b = jsonquote.Append(b, string(m.Type), false)
	b = appendStringField(b, `,"name":`, m.Name)
	b = appendStringField(b, `,"instance":`, m.Instance)
	b = appendStringsField(b, `,"methods":`, m.Methods)
	b = appendIntField(b, `,"capacity":`, m.Capacity)
	b = appendStringField(b, `,"token":`, m.Token)
	b = appendStringsField(b, `,"features":`, m.Features)
	if m.Term != 0 {
		b = append(b, `,"term":`...)
		b = strconv.AppendUint(b, m.Term, 10)
	}
	b = appendStringField(b, `,"node_id":`, m.NodeID)
	b = appendStringField(b, `,"leader_id":`, m.LeaderID)
	b = appendStringField(b, `,"leader_endpoint":`, m.LeaderEndpoint)
	b = appendIntField(b, `,"heartbeat_ms":`, m.HeartbeatMS)
	b = appendIntField(b, `,"liveness":`, m.Liveness)
	b = appendIntField(b, `,"in_flight":`, m.InFlight)
	b = appendStringsField(b, `,"running":`, m.Running)
	b = appendStringField(b, `,"run_id":`, m.RunID)
	b = appendStringField(b, `,"schedule_id":`, m.ScheduleID)
	b = appendStringField(b, `,"method":`, m.Method)
	if b, err = appendRawField(b, `,"params":`, m.Params); err != nil {
		return b, fmt.Errorf("params: %w", err)
	}
	if b, err = appendTimeField(b, `,"nominal_at":`, m.NominalAt); err != nil {
		return b, err
	}
	if b, err = appendTimeField(b, `,"fired_at":`, m.FiredAt); err != nil {
		return b, err
	}
	b = appendIntField(b, `,"attempt":`, m.Attempt)
	if b, err = appendTimeField(b, `,"deadline":`, m.Deadline); err != nil {
		return b, err
	}
	if m.OK {
		b = append(b, `,"ok":true`...)
	}
	if b, err = appendRawField(b, `,"result":`, m.Result); err != nil {
		return b, fmt.Errorf("result: %w", err)
	}
	b = appendStringField(b, `,"error":`, m.Error)
	if b, err = appendTimeField(b, `,"started_at":`, m.StartedAt); err != nil {
		return b, err
	}
	if b, err = appendTimeField(b, `,"finished_at":`, m.FinishedAt); err != nil {
		return b, err
	}
	b = appendStringField(b, `,"reason":`, m.Reason)
	return append(b, '}'), nil
}

func appendStringField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return jsonquote.Append(append(b, key...), s, false)
}

func appendStringsField(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonquote.Append(b, s, false)
	}
	return append(b, ']')
}

func appendIntField(b []byte, key string, v int) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(v), 10)
}

// appendRawField writes raw compacted, after checking it is one valid
// JSON value (as encoding/json does for json.RawMessage).
func appendRawField(b []byte, key string, raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return b, nil
	}
	if !validValue(raw) {
		return b, errRawJSON
	}
	return appendCompact(append(b, key...), raw), nil
}

func appendTimeField(b []byte, key string, t *time.Time) ([]byte, error) {
	if t == nil {
		return b, nil
	}
	b = append(b, key...)
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b, err
	}
	return append(b, '"'), nil
}

// appendCompact appends the valid JSON value raw without insignificant
// whitespace.
func appendCompact(b, raw []byte) []byte {
	start, inString := 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b = append(b, raw[start:i]...)
			start = i + 1
		}
	}
	return append(b, raw[start:]...)
}
