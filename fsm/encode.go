package fsm

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/internal/jsonquote"
)

// Fast encoding of log entries: appendEvent writes exactly the bytes
// json.Marshal writes for an Event (same field order, omitempty, escaping
// with HTML-safe escapes, time and duration forms), without reflection.
// For anything it does not reproduce by construction — raw JSON that is not
// already canonical, times JSON cannot carry — it reports false and Encode
// uses json.Marshal for the whole entry, so the output is always
// json.Marshal's. TestEncode_Fast and FuzzEncode_Fast compare the two.

// appendJSONTime writes t as time.Time.MarshalJSON does; ok is false where
// MarshalJSON fails (year outside 0-9999, zone offset of 24h or more).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if b[n0+len("9999")] != '-' {
		return b, false
	}
	if b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		h := b[len(b)-len("07:00"):]
		if ('0' <= c && c <= '9') || 10*(h[0]-'0')+(h[1]-'0') >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

func appendJSONOptTime(b []byte, t *time.Time) ([]byte, bool) {
	if t == nil {
		return append(b, "null"...), true
	}
	return appendJSONTime(b, *t)
}

// appendJSONRaw writes raw JSON that is valid and already canonical
// (isCanonRaw) as json.Marshal would: unchanged.
func appendJSONRaw(b []byte, v json.RawMessage) ([]byte, bool) {
	if end, ok := scanJSON(v, 0, 0); !ok || end != len(v) {
		return b, false
	}
	for _, c := range v {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xE2:
			return b, false
		}
	}
	return append(b, v...), true
}

func appendJSONDuration(b []byte, d Duration) []byte {
	b = append(b, '"')
	if s, ok := commonDurations[d]; ok {
		b = append(b, s...)
	} else {
		b = append(b, d.String()...)
	}
	return append(b, '"')
}

// commonDurations holds Duration.String for policy values that recur in
// every schedule (read-only after init), saving an allocation each.
var commonDurations = func() map[Duration]string {
	m := make(map[Duration]string)
	for _, d := range []time.Duration{0, time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		m[Duration(d)] = Duration(d).String()
	}
	return m
}()

func appendJSONBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// jsonWriter appends fields of one object; ok turns false on the first
// value it cannot write exactly.
type jsonWriter struct {
	b     []byte
	ok    bool
	comma bool
}

func (w *jsonWriter) key(k string) {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = true
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) str(k, v string)     { w.key(k); w.b = jsonquote.Append(w.b, v, true) }
func (w *jsonWriter) int(k string, v int) { w.key(k); w.b = strconv.AppendInt(w.b, int64(v), 10) }
func (w *jsonWriter) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}
func (w *jsonWriter) bool(k string, v bool)      { w.key(k); w.b = appendJSONBool(w.b, v) }
func (w *jsonWriter) dur(k string, v Duration)   { w.key(k); w.b = appendJSONDuration(w.b, v) }
func (w *jsonWriter) time(k string, v time.Time) { w.key(k); w.b, w.ok = w.and(appendJSONTime(w.b, v)) }
func (w *jsonWriter) optTime(k string, v *time.Time) {
	w.key(k)
	w.b, w.ok = w.and(appendJSONOptTime(w.b, v))
}
func (w *jsonWriter) raw(k string, v json.RawMessage) {
	w.key(k)
	w.b, w.ok = w.and(appendJSONRaw(w.b, v))
}
func (w *jsonWriter) and(b []byte, ok bool) ([]byte, bool) { return b, w.ok && ok }

func (w *jsonWriter) open() bool {
	w.b = append(w.b, '{')
	c := w.comma
	w.comma = false
	return c
}

func (w *jsonWriter) close(comma bool) {
	w.b = append(w.b, '}')
	w.comma = comma
}

func (w *jsonWriter) event(ev *Event) {
	c := w.open()
	w.str("type", string(ev.Type))
	w.time("at", ev.At)
	if ev.ID != "" {
		w.str("id", ev.ID)
	}
	if ev.IfVersion != 0 {
		w.uint("if_version", ev.IfVersion)
	}
	if ev.Schedule != nil {
		w.key("schedule")
		w.schedule(ev.Schedule)
	}
	if ev.Node != nil {
		w.key("node")
		n, cc := ev.Node, w.open()
		w.str("id", n.ID)
		w.str("http_addr", n.HTTPAddr)
		w.str("raft_addr", n.RaftAddr)
		w.str("zmq_addr", n.ZMQAddr)
		w.close(cc)
	}
	if ev.Run != nil {
		w.key("run")
		w.run(ev.Run)
	}
	if ev.RunID != "" {
		w.str("run_id", ev.RunID)
	}
	if ev.Attempt != 0 {
		w.int("attempt", ev.Attempt)
	}
	if ev.Instance != "" {
		w.str("instance", ev.Instance)
	}
	if len(ev.Result) != 0 {
		w.raw("result", ev.Result)
	}
	if ev.Error != "" {
		w.str("error", ev.Error)
	}
	if ev.NotBefore != nil {
		w.optTime("not_before", ev.NotBefore)
	}
	if h := ev.Handler; h != nil {
		w.key("handler")
		cc := w.open()
		w.str("name", h.Name)
		w.str("instance", h.Instance)
		w.key("methods")
		if h.Methods == nil {
			w.b = append(w.b, "null"...)
		} else {
			w.b = append(w.b, '[')
			for i, m := range h.Methods {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				w.b = jsonquote.Append(w.b, m, true)
			}
			w.b = append(w.b, ']')
		}
		w.int("capacity", h.Capacity)
		w.time("registered_at", h.RegisteredAt)
		w.close(cc)
	}
	w.close(c)
}

func (w *jsonWriter) schedule(s *Schedule) {
	c := w.open()
	w.str("id", s.ID)
	w.str("handler", s.Handler)
	w.str("method", s.Method)
	if len(s.Params) != 0 {
		w.raw("params", s.Params)
	}
	w.key("trigger")
	tc := w.open()
	if s.Trigger.Cron != "" {
		w.str("cron", s.Trigger.Cron)
	}
	if s.Trigger.Timezone != "" {
		w.str("timezone", s.Trigger.Timezone)
	}
	if s.Trigger.Every != "" {
		w.str("every", s.Trigger.Every)
	}
	if s.Trigger.At != "" {
		w.str("at", s.Trigger.At)
	}
	w.close(tc)
	w.key("policy")
	p, pc := &s.Policy, w.open()
	w.str("overlap", p.Overlap)
	w.dur("catchup_window", p.CatchupWindow)
	w.int("max_retries", p.MaxRetries)
	w.dur("retry_backoff", p.RetryBackoff)
	w.dur("timeout", p.Timeout)
	w.dur("jitter", p.Jitter)
	w.int("history_limit", p.HistoryLimit)
	w.dur("history_max_age", p.HistoryMaxAge)
	w.close(pc)
	w.optTime("start_at", s.StartAt)
	w.optTime("end_at", s.EndAt)
	w.int("max_runs", s.MaxRuns)
	w.bool("paused", s.Paused)
	w.uint("version", s.Version)
	w.time("created_at", s.CreatedAt)
	w.time("updated_at", s.UpdatedAt)
	if s.LastNominalAt != nil {
		w.optTime("last_nominal_at", s.LastNominalAt)
	}
	if s.FiredRuns != 0 {
		w.int("fired_runs", s.FiredRuns)
	}
	w.close(c)
}

func (w *jsonWriter) run(r *Run) {
	c := w.open()
	w.str("id", r.ID)
	w.str("schedule_id", r.ScheduleID)
	w.time("nominal_at", r.NominalAt)
	w.time("due_at", r.DueAt)
	w.time("fired_at", r.FiredAt)
	w.str("trigger", r.Trigger)
	w.int("attempt", r.Attempt)
	w.str("status", string(r.Status))
	if r.HandlerInstance != "" {
		w.str("handler_instance", r.HandlerInstance)
	}
	if r.StartedAt != nil {
		w.optTime("started_at", r.StartedAt)
	}
	if r.FinishedAt != nil {
		w.optTime("finished_at", r.FinishedAt)
	}
	if r.NotBefore != nil {
		w.optTime("not_before", r.NotBefore)
	}
	if len(r.Result) != 0 {
		w.raw("result", r.Result)
	}
	if r.Error != "" {
		w.str("error", r.Error)
	}
	w.close(c)
}

// appendEnvelope appends {"events":[…]} for events; ok=false means "use
// json.Marshal".
func appendEnvelope(b []byte, events []Event) ([]byte, bool) {
	if events == nil {
		return append(b, `{"events":null}`...), true
	}
	w := jsonWriter{b: append(b, `{"events":[`...), ok: true}
	for i := range events {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.comma = false
		w.event(&events[i])
		if !w.ok {
			return b, false
		}
	}
	return append(w.b, "]}"...), true
}
