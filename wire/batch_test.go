package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	enc := func(m Message) []byte {
		b, err := Encode(m)
		require.NoError(t, err)
		return b
	}
	hb := enc(Message{Type: TypeHeartbeat, Term: 2})
	acc := enc(Message{Type: TypeAccepted, RunID: "r1", Attempt: 1, Term: 2})
	bye := enc(Message{Type: TypeGoodbye, Reason: "x"})

	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		msgs, dropped, err := DecodeFrame(nil, acc)
		require.NoError(t, err)
		require.Zero(t, dropped)
		require.Len(t, msgs, 1)
		require.Equal(t, "r1", msgs[0].RunID)
	})
	t.Run("BatchInOrder", func(t *testing.T) {
		t.Parallel()
		prefix := []Message{{Type: TypeHello}}
		msgs, dropped, err := DecodeFrame(prefix, AppendBatch(nil, hb, acc, bye))
		require.NoError(t, err)
		require.Zero(t, dropped)
		require.Equal(t, []Type{TypeHello, TypeHeartbeat, TypeAccepted, TypeGoodbye},
			[]Type{msgs[0].Type, msgs[1].Type, msgs[2].Type, msgs[3].Type})
	})
	t.Run("BatchFrameSize", func(t *testing.T) {
		t.Parallel()
		b := AppendBatch(nil, hb, acc, bye)
		require.Equal(t, BatchFrameSize(3, len(hb)+len(acc)+len(bye)), len(b))
	})
	t.Run("AnyKeyOrder", func(t *testing.T) {
		t.Parallel()
		frame := fmt.Sprintf(` { "messages" : [ %s , %s ] , "type" : "batch" , "v" : 1 } `, hb, bye)
		msgs, _, err := DecodeFrame(nil, []byte(frame))
		require.NoError(t, err)
		require.Len(t, msgs, 2)
	})
	t.Run("BadElementsDropped", func(t *testing.T) {
		t.Parallel()
		frame := AppendBatch(nil, hb,
			[]byte(`{"v":1,"type":"explode"}`),                                // unknown type
			[]byte(`{"v":2,"type":"heartbeat"}`),                              // other version
			[]byte(`{"v":1,"type":"result"}`),                                 // no run_id
			[]byte(`{"v":1,"type":"goodbye","reason":7}`),                     // wrong field type
			AppendBatch(nil, hb, bye),                                         // nested batch
			[]byte(`[1,2]`), []byte(`null`), []byte(`"s"`), []byte(`{"v":1}`), // not messages
			bye)
		msgs, dropped, err := DecodeFrame(nil, frame)
		require.NoError(t, err)
		require.Equal(t, 9, dropped)
		require.Len(t, msgs, 2)
		require.Equal(t, TypeHeartbeat, msgs[0].Type)
		require.Equal(t, TypeGoodbye, msgs[1].Type)
	})
	for name, frame := range map[string]string{
		"Empty":             `{"v":1,"type":"batch","messages":[]}`,
		"NoMessages":        `{"v":1,"type":"batch"}`,
		"NullMessages":      `{"v":1,"type":"batch","messages":null}`,
		"MessagesNotArray":  `{"v":1,"type":"batch","messages":{"v":1,"type":"heartbeat"}}`,
		"DuplicateNotArray": `{"v":1,"type":"batch","messages":5,"messages":[` + string(hb) + `]}`,
		"EnvelopeFieldType": `{"v":1,"type":"batch","term":"x","messages":[` + string(hb) + `]}`,
		"Truncated":         string(AppendBatch(nil, hb, bye)[:40]),
		"TooMany":           string(AppendBatch(nil, bytes.Split(bytes.Repeat(append(hb, 0), MaxBatchMessages+1), []byte{0})[:MaxBatchMessages+1]...)),
	} {
		t.Run("Malformed"+name, func(t *testing.T) {
			t.Parallel()
			msgs, _, err := DecodeFrame([]Message{{Type: TypeHello}}, []byte(frame))
			require.ErrorIs(t, err, ErrMalformed)
			require.Len(t, msgs, 1, "nothing appended")
		})
	}
	t.Run("EnvelopeVersion", func(t *testing.T) {
		t.Parallel()
		_, _, err := DecodeFrame(nil, []byte(`{"v":2,"type":"batch","messages":[`+string(hb)+`]}`))
		require.ErrorIs(t, err, ErrVersion)
	})
	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		_, _, err := DecodeFrame(nil, AppendBatch(nil, hb, bytes.Repeat([]byte(" "), MaxFrameBytes)))
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("MaxMessages", func(t *testing.T) {
		t.Parallel()
		frames := make([][]byte, MaxBatchMessages)
		for i := range frames {
			frames[i] = hb
		}
		msgs, _, err := DecodeFrame(nil, AppendBatch(nil, frames...))
		require.NoError(t, err)
		require.Len(t, msgs, MaxBatchMessages)
	})
}

// FuzzAppendEncode holds the encoder to encoding/json: the same bytes once
// HTML-escaped, and the same errors.
func FuzzAppendEncode(f *testing.F) {
	f.Add("dispatch", "run-1", "ein <b>&</b> \u2028\xff\x01", `{"a": [1, "x y"]}`, 3, uint64(7), int64(1800000000), int64(5), true, 0)
	f.Add("", "", "", "", 0, uint64(0), int64(0), int64(0), false, -1)
	f.Add("result", "r", "e", ` "s" `, -5, uint64(1)<<63, int64(-62135596801), int64(0), false, 3600)
	f.Fuzz(func(t *testing.T, typ, id, text, raw string, n int, term uint64, sec, nsec int64, ok bool, offset int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("z", offset))
		m := Message{
			Type: Type(typ), Name: id, Instance: text, Methods: []string{id, text}, Capacity: n, Token: text,
			Features: []string{text}, Term: term, NodeID: id, LeaderID: text, LeaderEndpoint: id,
			HeartbeatMS: n, Liveness: -n, InFlight: n, Running: []string{}, RunID: id, ScheduleID: text,
			Method: id, Params: json.RawMessage(raw), NominalAt: &tm, Attempt: n, OK: ok,
			Result: json.RawMessage(raw), Error: text, FinishedAt: &tm, Reason: text,
		}
		if n%2 == 0 {
			m.Methods, m.Params, m.FinishedAt = nil, nil, nil
		}
		got, err := AppendEncode([]byte("pre"), &m)
		m.V = Version
		want, werr := json.Marshal(m)
		if werr != nil {
			require.Error(t, err)
			require.Equal(t, "pre", string(got))
			return
		}
		if len(want) > MaxFrameBytes {
			require.ErrorIs(t, err, ErrTooLarge)
			return
		}
		require.NoError(t, err)
		var esc bytes.Buffer
		json.HTMLEscape(&esc, got[3:])
		require.Equal(t, string(want), esc.String())
		require.True(t, strings.HasPrefix(string(got), "pre"))
	})
}
