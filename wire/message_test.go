package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEncodeDecode(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for name, m := range map[string]Message{
		"Hello":    {Type: TypeHello, Name: "reports", Instance: "i-1", Methods: []string{"echo"}, Capacity: 4},
		"Dispatch": {Type: TypeDispatch, RunID: "r1", ScheduleID: "s", Method: "echo", Params: json.RawMessage(`{"a":1}`), NominalAt: &now, Attempt: 1, Term: 3, Deadline: &now},
		"Result":   {Type: TypeResult, RunID: "r1", Attempt: 1, Term: 3, OK: true, Result: json.RawMessage(`"x"`)},
		"Goodbye":  {Type: TypeGoodbye, Reason: "sigterm"},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(m)
			require.NoError(t, err)
			got, err := Decode(b)
			require.NoError(t, err)
			m.V = Version
			require.Equal(t, m, got)
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"NotJSON":         {"{", ErrMalformed},
		"WrongVersion":    {`{"v":2,"type":"hello"}`, ErrVersion},
		"UnknownType":     {`{"v":1,"type":"explode"}`, ErrMalformed},
		"HelloNoName":     {`{"v":1,"type":"hello","instance":"i","capacity":1}`, ErrMalformed},
		"HelloNoCapacity": {`{"v":1,"type":"hello","name":"n","instance":"i"}`, ErrMalformed},
		"DispatchNoTerm":  {`{"v":1,"type":"dispatch","run_id":"r","method":"m","attempt":1}`, ErrMalformed},
		"ResultNoRunID":   {`{"v":1,"type":"result"}`, ErrMalformed},
		"TooLarge":        {`{"v":1,"type":"goodbye","reason":"` + strings.Repeat("x", MaxFrameBytes) + `"}`, ErrTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			require.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("EncodeTooLarge", func(t *testing.T) {
		_, err := Encode(Message{Type: TypeGoodbye, Reason: strings.Repeat("x", MaxFrameBytes)})
		require.ErrorIs(t, err, ErrTooLarge)
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"hello","name":"n","instance":"i","capacity":1}`))
	f.Add([]byte(`{"v":1,"type":"dispatch","run_id":"r","method":"m","attempt":1,"term":2,"params":{"a":[1,2]}}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := Decode(frame)
		if err != nil {
			return
		}
		b, err := Encode(m)
		require.NoError(t, err)
		again, err := Decode(b)
		require.NoError(t, err)
		require.Equal(t, m.Type, again.Type)
		require.Equal(t, m.RunID, again.RunID)
	})
}
