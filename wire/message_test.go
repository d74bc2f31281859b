package wire

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for name, m := range map[string]Message{
		"Hello":    {Type: TypeHello, Name: "reports", Instance: "i-1", Methods: []string{"echo"}, Capacity: 4, Features: []string{FeatureBatch}},
		"Dispatch": {Type: TypeDispatch, RunID: "r1", ScheduleID: "s", Method: "echo", Params: json.RawMessage(`{"a":1}`), NominalAt: &now, Attempt: 1, Term: 3, Deadline: &now},
		"Result":   {Type: TypeResult, RunID: "r1", Attempt: 1, Term: 3, OK: true, Result: json.RawMessage(`"x"`)},
		"Goodbye":  {Type: TypeGoodbye, Reason: "sigterm"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := Encode(m)
			require.NoError(t, err)
			got, err := Decode(b)
			require.NoError(t, err)
			m.V = Version
			require.Equal(t, m, got)
			want, err := json.Marshal(m)
			require.NoError(t, err)
			require.Equal(t, string(want), string(b), "byte-identical to encoding/json")
		})
	}
}

func TestEncode_Errors(t *testing.T) {
	t.Parallel()
	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		_, err := Encode(Message{Type: TypeGoodbye, Reason: strings.Repeat("x", MaxFrameBytes)})
		require.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("InvalidParams", func(t *testing.T) {
		t.Parallel()
		_, err := Encode(Message{Type: TypeDispatch, Params: json.RawMessage(`{"a":`)})
		require.ErrorContains(t, err, "params")
	})
	t.Run("TimeOutOfRange", func(t *testing.T) {
		t.Parallel()
		tm := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := Encode(Message{Type: TypeResult, StartedAt: &tm})
		require.Error(t, err)
	})
	t.Run("AppendKeepsPrefix", func(t *testing.T) {
		t.Parallel()
		dst := []byte("prefix")
		out, err := AppendEncode(dst, &Message{Type: TypeDispatch, Params: json.RawMessage(`{`)})
		require.Error(t, err)
		require.Equal(t, "prefix", string(out))
	})
}

func TestDecode_Errors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"NotJSON":         {"{", ErrMalformed},
		"TrailingData":    {`{"v":1,"type":"goodbye"} x`, ErrMalformed},
		"NotAnObject":     {`[1]`, ErrMalformed},
		"Null":            {`null`, ErrVersion},
		"WrongVersion":    {`{"v":2,"type":"hello"}`, ErrVersion},
		"UnknownType":     {`{"v":1,"type":"explode"}`, ErrMalformed},
		"WrongFieldType":  {`{"v":1,"type":"goodbye","reason":5}`, ErrMalformed},
		"FractionalInt":   {`{"v":1.0,"type":"goodbye"}`, ErrMalformed},
		"NegativeTerm":    {`{"v":1,"type":"heartbeat","term":-1}`, ErrMalformed},
		"BadTime":         {`{"v":1,"type":"result","run_id":"r","started_at":"yesterday"}`, ErrMalformed},
		"HelloNoName":     {`{"v":1,"type":"hello","instance":"i","capacity":1}`, ErrMalformed},
		"HelloNoCapacity": {`{"v":1,"type":"hello","name":"n","instance":"i"}`, ErrMalformed},
		"DispatchNoTerm":  {`{"v":1,"type":"dispatch","run_id":"r","method":"m","attempt":1}`, ErrMalformed},
		"ResultNoRunID":   {`{"v":1,"type":"result"}`, ErrMalformed},
		"Batch":           {`{"v":1,"type":"batch","messages":[{"v":1,"type":"goodbye"}]}`, ErrMalformed},
		"TooDeep":         {`{"v":1,"type":"goodbye","x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`, ErrMalformed},
		"TooLarge":        {`{"v":1,"type":"goodbye","reason":"` + strings.Repeat("x", MaxFrameBytes) + `"}`, ErrTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tc.in))
			require.ErrorIs(t, err, tc.want)
			_, refErr := refDecode([]byte(tc.in))
			require.ErrorIs(t, refErr, tc.want, "encoding/json agrees")
		})
	}
}

func TestDecode_LikeEncodingJSON(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"CaseInsensitiveKeys": `{"V":1,"TYPE":"goodbye","Reason":"x"}`,
		"FoldedKeys":          "{\"v\":1,\"type\":\"dispatch\",\"run_id\":\"r\",\"method\":\"m\",\"attempt\":1,\"term\":2,\"\u017fchedule_id\":\"s\"}",
		"DuplicateKeysLast":   `{"v":1,"type":"goodbye","reason":"a","reason":"b"}`,
		"NullLeavesScalars":   `{"v":1,"type":"goodbye","reason":"a","reason":null}`,
		"NullParams":          `{"v":1,"type":"dispatch","run_id":"r","method":"m","attempt":1,"term":2,"params":null}`,
		"EmptyMethods":        `{"v":1,"type":"hello","name":"n","instance":"i","capacity":1,"methods":[]}`,
		"NullInMethods":       `{"v":1,"type":"hello","name":"n","instance":"i","capacity":1,"methods":["a",null]}`,
		"Escapes":             `{"v":1,"type":"goodbye","reason":"a\"b\\c\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x"}`,
		"InvalidUTF8":         "{\"v\":1,\"type\":\"goodbye\",\"reason\":\"a\xffb\"}",
		"Whitespace":          " {\n\t\"v\" : 1 , \"type\" : \"goodbye\" }\r\n",
		"UnknownFields":       `{"v":1,"type":"goodbye","x":{"y":[1,2,{"z":null}]},"n":-1.5e3}`,
		"TimeOffset":          `{"v":1,"type":"result","run_id":"r","started_at":"2026-11-27T10:00:00.5+02:00"}`,
		"RawWithSpaces":       `{"v":1,"type":"result","run_id":"r","result":[ 1 , "a b" ]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, werr := refDecode([]byte(in))
			require.NoError(t, werr)
			got, err := Decode([]byte(in))
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

// refDecode is Decode written with encoding/json: the behaviour Decode
// must match.
func refDecode(frame []byte) (Message, error) {
	var m Message
	if len(frame) > MaxFrameBytes {
		return m, ErrTooLarge
	}
	if err := json.Unmarshal(frame, &m); err != nil {
		return m, ErrMalformed
	}
	return m, checkMessage(&m)
}

// refDecodeFrame is DecodeFrame written with encoding/json.
func refDecodeFrame(frame []byte) ([]Message, int, error) {
	m, err := refDecode(frame)
	switch {
	case err == nil:
		return []Message{m}, 0, nil
	case m.Type != TypeBatch || m.V != Version || len(frame) > MaxFrameBytes:
		return nil, 0, err
	}
	if err := json.Unmarshal(frame, &m); err != nil { // a type error in the envelope
		return nil, 0, ErrMalformed
	}
	var env struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(frame, &env); err != nil || len(env.Messages) == 0 || len(env.Messages) > MaxBatchMessages {
		return nil, 0, ErrMalformed
	}
	var out []Message
	dropped := 0
	for _, raw := range env.Messages {
		m, err := refDecode(raw)
		if err != nil {
			dropped++
			continue
		}
		out = append(out, m)
	}
	return out, dropped, nil
}

// errClass maps an error to the sentinel it wraps.
func errClass(err error) error {
	for _, e := range []error{ErrTooLarge, ErrVersion, ErrMalformed} {
		if errorsIs(err, e) {
			return e
		}
	}
	return err
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"hello","name":"n","instance":"i","capacity":1,"features":["batch"]}`,
		`{"v":1,"type":"dispatch","run_id":"r","method":"m","attempt":1,"term":2,"params":{"a":[1,2]}}`,
		`{"v":1,"type":"result","run_id":"r","ok":true,"result":"x","started_at":"2026-11-27T10:00:00Z"}`,
		`{"V":1,"Type":"goodbye","reason":"a\u00e9\ud83d\ude00"}`,
		`{"v":1,"type":"welcome","term":18446744073709551615,"heartbeat_ms":-9223372036854775808}`,
		`{"v":1,"type":"batch","messages":[{"v":1,"type":"goodbye"},{"v":1,"type":"batch","messages":[]},null,7]}`,
		`{"messages":[{"v":1,"type":"heartbeat"}],"type":"batch","v":1,"messages":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		want, werr := refDecode(frame)
		got, err := Decode(frame)
		require.Equal(t, errClass(werr), errClass(err), "Decode error for %q", frame)
		if err == nil {
			require.Equal(t, want, got)
			// What decodes re-encodes, and decodes to the same message.
			b, err := Encode(got)
			if err == nil {
				again, err := Decode(b)
				require.NoError(t, err)
				require.Equal(t, got.Type, again.Type)
				require.Equal(t, got.RunID, again.RunID)
			}
		}

		wantMsgs, wantDropped, werr := refDecodeFrame(frame)
		gotMsgs, gotDropped, err := DecodeFrame(nil, frame)
		require.Equal(t, errClass(werr), errClass(err), "DecodeFrame error for %q", frame)
		require.Equal(t, wantDropped, gotDropped)
		require.Equal(t, len(wantMsgs), len(gotMsgs))
		for i := range wantMsgs {
			require.Equal(t, wantMsgs[i], gotMsgs[i])
		}
	})
}

// TestCodec_EveryField guards the hand-written codec against a Message
// field added without teaching it: every field set, the encoding must
// equal encoding/json's and decode back to the same message.
func TestCodec_EveryField(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
	var m Message
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Interface().(type) {
		case string, Type:
			f.SetString("x" + strconv.Itoa(i))
		case int:
			f.SetInt(int64(i + 1))
		case uint64:
			f.SetUint(uint64(i + 1))
		case bool:
			f.SetBool(true)
		case []string:
			f.Set(reflect.ValueOf([]string{"a", strconv.Itoa(i)}))
		case json.RawMessage:
			f.Set(reflect.ValueOf(json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)))
		case *time.Time:
			tm := now.Add(time.Duration(i) * time.Second)
			f.Set(reflect.ValueOf(&tm))
		default:
			t.Fatalf("field %s of type %s: teach this test and the codec (encode.go, fields.go)", v.Type().Field(i).Name, f.Type())
		}
	}
	m.V = Version
	want, err := json.Marshal(m)
	require.NoError(t, err)
	got, err := AppendEncode(nil, &m)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	var back Message
	p := parser{data: want}
	require.NoError(t, p.value(&back, nil))
	require.Equal(t, m, back)
}
