package fsm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/trigger"
)

// decodeSeeds are entries with every event type and field, as Encode
// writes them, plus hand-written variants that take the fallback.
func decodeSeeds(t testing.TB) [][]byte {
	t.Helper()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	nb := at.Add(time.Minute)
	plus := at.In(time.FixedZone("", -5*3600))
	s := fullSchedule()
	s.StartAt = &plus
	events := []Event{
		{Type: ScheduleCreated, At: at, Schedule: s},
		{Type: ScheduleUpdated, At: at.Add(time.Nanosecond), Schedule: &Schedule{ID: "b", Trigger: trigger.Spec{Every: "1h"}, Policy: DefaultPolicy}, IfVersion: 3},
		{Type: SchedulePaused, At: at, ID: "a"},
		{Type: RunFired, At: at, Run: fullRun()},
		{Type: RunAccepted, At: at, RunID: "r", Attempt: 1, Instance: "i"},
		{Type: RunRetried, At: at, RunID: "r", Attempt: 1, Error: "lost \"quoted\" <tag> é", NotBefore: &nb},
		{Type: RunSucceeded, At: at, RunID: "r", Attempt: 2, Result: json.RawMessage(`{"x":[1,2.5e3,-0.1,true,false,null,"\u00e9"]}`)},
		{Type: HandlerRegistered, At: at, Handler: &HandlerInfo{Name: "n", Instance: "i", Methods: []string{"a", "b"}, Capacity: 2}},
		{Type: HandlerRegistered, At: at, Handler: &HandlerInfo{Name: "n", Instance: "j", Methods: []string{}, Capacity: 1}},
		{Type: NodeUpserted, At: at, Node: &NodeInfo{ID: "n1", HTTPAddr: "h", RaftAddr: "r", ZMQAddr: "z"}},
		{Type: Noop, At: at},
	}
	var out [][]byte
	for _, ev := range events {
		data, err := Encode([]Event{ev})
		require.NoError(t, err)
		out = append(out, data[1:])
	}
	all, err := Encode(events)
	require.NoError(t, err)
	out = append(out, all[1:])
	for _, raw := range []string{
		`{"events":[]}`,
		` { "events" : [ { "type" : "noop" , "at" : "2026-01-01T00:00:00.5Z" } ] } `,
		`{"events":[{"type":"noop","Type":"x"}]}`,
		`{"events":[{"type":"noop","type":"x"}]}`,
		`{"events":[{"type":"noop","at":"2026-02-29T00:00:00Z"}]}`,
		`{"events":[{"type":"noop","at":"2024-02-29T23:59:59.123456789Z"}]}`,
		`{"events":[{"type":"noop","at":"2024-02-29T23:59:59.1234567891Z"}]}`,
		`{"events":[{"type":"noop","at":"2024-02-29T23:59:59+01:00"}]}`,
		`{"events":[{"type":"noop","at":null}]}`,
		`{"events":[{"type":"x","attempt":1.0}]}`,
		`{"events":[{"type":"x","attempt":-0}]}`,
		`{"events":[{"type":"x","attempt":007}]}`,
		`{"events":[{"type":"x","if_version":-1}]}`,
		`{"events":[{"type":"x","error":"\ud800"}]}`,
		`{"events":[{"type":"x","error":"` + "\xff" + `"}]}`,
		`{"events":[{"type":"x","result":null}]}`,
		`{"events":[{"type":"x","schedule":null}]}`,
		`{"events":[{"type":"x","schedule":{"policy":{"timeout":"-1s"}}}]}`,
		`{"events":[{"type":"x","schedule":{"policy":{"timeout":null}}}]}`,
		`{"events":[{"type":"x","handler":{"methods":null}}]}`,
		`{"events":[null]}`,
		`{"events":null}`,
		`{"events":[]} x`,
		`{"events":[],"more":1}`,
	} {
		out = append(out, []byte(raw))
	}
	return out
}

// FuzzDecode_Fast: whenever the fast decoder accepts an entry, encoding/json
// accepts it too and decodes exactly the same events. (When it declines,
// Decode uses encoding/json, so the result is always encoding/json's.)
func FuzzDecode_Fast(f *testing.F) {
	for _, seed := range decodeSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, ok := decodeFast(data, nil)
		interned, ok2 := decodeFast(data, newInterner())
		require.Equal(t, ok, ok2)
		if !ok {
			return
		}
		var env envelope
		require.NoError(t, json.Unmarshal(data, &env), "the fast path accepted what encoding/json rejects")
		require.Equal(t, env.Events, events)
		require.Equal(t, env.Events, interned)
	})
}

func TestDecode_FastPathTaken(t *testing.T) {
	// Everything Encode writes takes the fast paths of Decode and Encode
	// (else the apply budget is lost silently).
	for _, seed := range decodeSeeds(t)[:12] {
		events, ok := decodeFast(seed, nil)
		require.True(t, ok, "%s", seed)
		_, ok = appendEnvelope(nil, events)
		require.True(t, ok, "Encode's fast path: %s", seed)
	}
	_, ok := decodeFast([]byte(`{"events":[{"type":"noop","Type":"x"}]}`), nil)
	require.False(t, ok)
	require.True(t, strings.HasPrefix(string(decodeSeeds(t)[0]), `{"events":[`))
}

func TestParseUTCTime(t *testing.T) {
	for _, s := range []string{
		"2026-11-27T10:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2024-02-29T12:00:00.5Z",
		"2023-02-29T12:00:00Z", "2026-13-01T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T10:60:00Z",
		"2026-11-27T10:00:60Z", "2026-11-27T10:00:00.Z", "2026-11-27T10:00:00.1234567890Z", "2026-11-27t10:00:00Z",
		"2026-11-27T10:00:00+00:00", "+026-11-27T10:00:00Z", "2026-11-27T10:00:00,5Z",
	} {
		want, werr := time.Parse(time.RFC3339, s)
		got, ok := parseUTCTime([]byte(s))
		if ok {
			require.NoError(t, werr, s)
			require.Equal(t, want, got, s)
			var viaJSON time.Time
			require.NoError(t, viaJSON.UnmarshalJSON([]byte(`"`+s+`"`)))
			require.Equal(t, viaJSON, got, s)
		}
	}
}

func requireEncodeLikeMarshal(t *testing.T, events []Event) {
	t.Helper()
	want, wantErr := json.Marshal(envelope{Events: events})
	got, err := Encode(events)
	if wantErr != nil {
		require.Error(t, err)
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(want), string(got[1:]))
}

// TestEncode_Fast: Encode writes exactly what json.Marshal writes.
func TestEncode_Fast(t *testing.T) {
	for _, seed := range decodeSeeds(t) {
		var env envelope
		if json.Unmarshal(seed, &env) == nil {
			requireEncodeLikeMarshal(t, env.Events)
		}
	}
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	all.WriteString("\u2028\u2029é\U0001F600\xed\xa0\x80")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{{}, at, at.Add(123456789), time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		at.In(time.FixedZone("x", -(23*3600 + 59*60))), at.In(time.FixedZone("x", 24*3600)), at.In(time.FixedZone("x", 90))}
	for _, tm := range times {
		requireEncodeLikeMarshal(t, []Event{{Type: Noop, At: tm}})
		requireEncodeLikeMarshal(t, []Event{{Type: Noop, NotBefore: &tm}})
	}
	for _, raw := range []string{`{"a":1}`, ` {"a":1}`, `{"a":"<"}`, "\"\u2028\"", `[1,2 ]`, `{"a":1}x`, `{`, `nul`, `"\u00e9"`} {
		requireEncodeLikeMarshal(t, []Event{{Type: Noop, Result: json.RawMessage(raw)}})
	}
	s := fullSchedule()
	s.ID, s.Handler, s.Method = all.String(), "a<b", "\t"
	requireEncodeLikeMarshal(t, []Event{{Type: ScheduleCreated, Schedule: s, Error: all.String()}})
	requireEncodeLikeMarshal(t, []Event{{Type: ScheduleCreated, Schedule: &Schedule{}, Run: &Run{}, Node: &NodeInfo{}, Handler: &HandlerInfo{}}})
	requireEncodeLikeMarshal(t, nil)
	requireEncodeLikeMarshal(t, []Event{})
}

// FuzzEncode_Fast: for any events encoding/json can decode, Encode writes
// what json.Marshal writes.
func FuzzEncode_Fast(f *testing.F) {
	for _, seed := range decodeSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var env envelope
		if json.Unmarshal(data, &env) != nil {
			return
		}
		requireEncodeLikeMarshal(t, env.Events)
	})
}
