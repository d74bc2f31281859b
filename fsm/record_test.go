package fsm

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/trigger"
)

var recordT0 = time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)

func fullSchedule() *Schedule {
	start, end, last := recordT0.Add(time.Hour), recordT0.Add(2*time.Hour), recordT0.Add(-time.Minute)
	return &Schedule{ID: "s1", Handler: "h", Method: "m", Params: json.RawMessage(`{"a":1}`),
		Trigger: trigger.Spec{Cron: "* * * * *", Timezone: "Europe/Berlin", Every: "1h", At: "x"},
		Policy: Policy{Overlap: "skip", CatchupWindow: 1, MaxRetries: 2, RetryBackoff: 3, Timeout: 4, Jitter: 5,
			HistoryLimit: 6, HistoryMaxAge: 7},
		StartAt: &start, EndAt: &end, MaxRuns: 8, Paused: true, Version: 9, CreatedAt: recordT0, UpdatedAt: recordT0,
		LastNominalAt: &last, FiredRuns: 10}
}

func fullRun() *Run {
	s, f, nb := recordT0.Add(time.Second), recordT0.Add(2*time.Second), recordT0.Add(3*time.Second)
	return &Run{ID: "r1", ScheduleID: "s1", NominalAt: recordT0, DueAt: recordT0.Add(1), FiredAt: recordT0.Add(2),
		Trigger: TriggerScheduled, Attempt: 2, Status: StatusRunning, HandlerInstance: "i", StartedAt: &s, FinishedAt: &f,
		NotBefore: &nb, Result: json.RawMessage(`[1]`), Error: "e"}
}

// eachLeaf calls fn after changing each leaf field of the struct v points
// to, one at a time, then restores it.
func eachLeaf(t *testing.T, v reflect.Value, path string, fn func(path string)) {
	for i := range v.NumField() {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		if !v.Type().Field(i).IsExported() {
			continue
		}
		old := reflect.New(f.Type()).Elem()
		old.Set(f)
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(time.Nanosecond)))
		case f.Type() == reflect.TypeOf(&time.Time{}):
			if f.IsNil() {
				f.Set(reflect.ValueOf(&recordT0))
			} else {
				f.Set(reflect.Zero(f.Type()))
			}
		case f.Kind() == reflect.Struct:
			eachLeaf(t, f, name, fn)
			continue
		case f.Kind() == reflect.String:
			f.SetString(f.String() + "x")
		case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
			f.SetInt(f.Int() + 1)
		case f.Kind() == reflect.Uint64:
			f.SetUint(f.Uint() + 1)
		case f.Kind() == reflect.Bool:
			f.SetBool(!f.Bool())
		case f.Type() == reflect.TypeOf(json.RawMessage{}):
			f.SetBytes([]byte(`[2]`))
		case f.Type() == reflect.TypeOf([]string{}):
			if f.IsNil() {
				f.Set(reflect.ValueOf([]string{}))
			} else {
				f.Set(reflect.Zero(f.Type()))
			}
		default:
			t.Fatalf("%s: no mutation for %s: teach the canonical encoding (record.go) and this test about it", name, f.Type())
		}
		fn(name)
		f.Set(old)
	}
}

// TestRecord_Complete: every field of every record type is part of its
// canonical encoding (so of the digest and of a version-2 snapshot), and
// decoding gives the record back.
func TestRecord_Complete(t *testing.T) {
	type codec struct {
		v      any
		encode func() []byte
		decode func(d *recordDecoder, b []byte) (any, error)
	}
	s, r := fullSchedule(), fullRun()
	n := &NodeInfo{ID: "n", HTTPAddr: "h", RaftAddr: "r", ZMQAddr: "z"}
	h := &HandlerInfo{Name: "n", Instance: "i", Methods: []string{"a"}, Capacity: 1, RegisteredAt: recordT0}
	for name, c := range map[string]codec{
		"Schedule": {s, func() []byte { return appendSchedule(nil, s) }, func(d *recordDecoder, b []byte) (any, error) { return d.schedule(b) }},
		"Run":      {r, func() []byte { return appendRun(nil, r) }, func(d *recordDecoder, b []byte) (any, error) { return d.run(b) }},
		"Node":     {n, func() []byte { return appendNode(nil, n) }, func(d *recordDecoder, b []byte) (any, error) { return d.node(b) }},
		"Handler":  {h, func() []byte { return appendHandler(nil, h) }, func(d *recordDecoder, b []byte) (any, error) { return d.handler(b) }},
	} {
		t.Run(name, func(t *testing.T) {
			base := c.encode()
			roundTrip := func(path string) {
				b := c.encode()
				got, err := c.decode(&recordDecoder{in: newInterner()}, b)
				require.NoError(t, err, path)
				wantJSON, _ := json.Marshal(c.v)
				gotJSON, _ := json.Marshal(got)
				require.JSONEq(t, string(wantJSON), string(gotJSON), path)
			}
			roundTrip("")
			eachLeaf(t, reflect.ValueOf(c.v).Elem(), "", func(path string) {
				require.NotEqual(t, base, c.encode(), "%s is not part of the canonical encoding", path)
				roundTrip(path)
			})
		})
	}
}

// TestRecord_JSONEquivalent: what JSON does not tell apart, the encoding
// does not either (and the other way round, by TestRecord_Complete).
func TestRecord_JSONEquivalent(t *testing.T) {
	a, b := fullSchedule(), fullSchedule()
	local := a.StartAt.In(time.FixedZone("CEST", 2*3600))
	other := a.StartAt.In(time.FixedZone("", 2*3600))
	a.StartAt, b.StartAt = &local, &other
	a.Params, b.Params = nil, json.RawMessage{}
	mono := time.Now()
	a.CreatedAt, b.CreatedAt = mono, mono.Round(0)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	require.Equal(t, string(ja), string(jb))
	require.Equal(t, appendSchedule(nil, a), appendSchedule(nil, b))
}

func TestCanonRaw(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1}`:               `{"a":1}`,
		` { "a" : [ 1 , 2 ] } `: `{"a":[1,2]}`,
		`"<&>"`:                 `"\u003c\u0026\u003e"`,
		"\"\u2028\"":            `"\u2028"`,
		`"a b"`:                 `"a b"`,
	} {
		got := canonRaw(json.RawMessage(in))
		require.Equal(t, want, string(got), in)
		m, err := json.Marshal(json.RawMessage(in))
		require.NoError(t, err)
		require.Equal(t, string(m), string(got), "canonRaw must be what json.Marshal writes")
		require.True(t, isCanonRaw(got))
	}
}
