package fsm

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/schedulezero/schedulezero/trigger"
)

// Fast decoding of log entries.
//
// encoding/json spends most of a schedule.created on reflection (~15 µs per
// event on the reference machine, which alone breaks the 5 µs apply
// budget). fastDecoder parses the JSON that Encode (json.Marshal) writes,
// field by field, and interns repeated strings on the way. It is not a
// second JSON implementation with its own semantics: it accepts only input
// on which it provably agrees with encoding/json — exact key names (no case
// folding), no duplicate keys, no unknown keys, no nulls except for pointer
// fields and raw values, integers without fraction or exponent, strings
// without escapes that are valid UTF-8 (others are unquoted by
// encoding/json itself), times in the common "…Z" form (others are parsed by
// time.Time.UnmarshalJSON itself) — and gives up on anything else. Decode then
// falls back to encoding/json for the whole entry, so the result (value or
// error) is always what encoding/json produces. FuzzDecode_Fast checks the
// agreement.
type fastDecoder struct {
	b  []byte
	i  int
	in *interner
}

// decodeFast decodes the JSON envelope {"events":[…]}; ok=false means
// "use encoding/json".
func decodeFast(b []byte, in *interner) (events []Event, ok bool) {
	d := fastDecoder{b: b, in: in}
	if !d.byte('{') {
		return nil, false
	}
	if k, ok := d.key(); !ok || string(k) != "events" {
		return nil, false
	}
	if !d.byte('[') {
		return nil, false
	}
	events = make([]Event, 0, min(len(b)/320+1, 4096)) // ~320 B per typical event
	if !d.byte(']') {
		for {
			events = append(events, Event{})
			if !d.event(&events[len(events)-1]) {
				return nil, false
			}
			if d.byte(']') {
				break
			}
			if !d.byte(',') {
				return nil, false
			}
		}
	}
	if !d.byte('}') {
		return nil, false
	}
	d.i = skipSpace(d.b, d.i)
	return events, d.i == len(d.b)
}

// byte consumes c after optional whitespace.
func (d *fastDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	d.i = skipSpace(d.b, d.i)
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// key reads `"name":` for a name without escapes.
func (d *fastDecoder) key() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			k := d.b[start:d.i]
			d.i++
			return k, d.byte(':')
		}
		if c == '\\' || c < 0x20 {
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// member advances to the next member of the object being read — past '{'
// when first, else past ',' — and returns its key, or end at '}'.
func (d *fastDecoder) member(first bool) (key []byte, end, ok bool) {
	if first {
		if !d.byte('{') {
			return nil, false, false
		}
	}
	if d.byte('}') {
		return nil, true, true
	}
	if !first && !d.byte(',') {
		return nil, false, false
	}
	key, ok = d.key()
	return key, false, ok
}

// stringToken returns the bytes between the quotes of the next string and
// whether they are plain (no escapes, valid UTF-8): plain bytes are the
// value exactly as encoding/json would unquote it.
func (d *fastDecoder) stringToken() (tok []byte, plain, ok bool) {
	i := skipSpace(d.b, d.i)
	if i >= len(d.b) || d.b[i] != '"' {
		return nil, false, false
	}
	for j := i + 1; j < len(d.b); j++ {
		c := d.b[j]
		if c == '"' {
			d.i = j + 1
			return d.b[i+1 : j], true, true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			end, ok := scanString(d.b, i)
			if !ok {
				return nil, false, false
			}
			d.i = end
			tok = d.b[i+1 : end-1]
			return tok, !hasByte(tok, '\\') && utf8.Valid(tok), true
		}
	}
	return nil, false, false
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// str reads a string value; intern shares short values.
func (d *fastDecoder) str(dst *string, intern bool) bool {
	start := d.i
	tok, plain, ok := d.stringToken()
	if !ok {
		return false
	}
	if !plain {
		// Escapes or invalid UTF-8: let encoding/json unquote the token.
		var s string
		if json.Unmarshal(d.b[skipSpace(d.b, start):d.i], &s) != nil {
			return false
		}
		*dst = s
		if intern {
			*dst = d.in.str(s)
		}
		return true
	}
	if intern {
		*dst = d.in.bytes(tok)
	} else {
		*dst = string(tok)
	}
	return true
}

// int reads an integer as encoding/json does for an int field (no fraction,
// no exponent); values beyond 18 digits make it give up.
func (d *fastDecoder) int(dst *int) bool {
	v, ok := d.int64()
	*dst = int(v)
	return ok
}

func (d *fastDecoder) int64() (int64, bool) {
	d.i = skipSpace(d.b, d.i)
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	v, ok := d.digits()
	if neg {
		v = -v
	}
	return v, ok
}

func (d *fastDecoder) uint64(dst *uint64) bool {
	d.i = skipSpace(d.b, d.i)
	v, ok := d.digits()
	*dst = uint64(v)
	return ok
}

func (d *fastDecoder) digits() (int64, bool) {
	start := d.i
	var v int64
	for d.i < len(d.b) && isDigit(d.b[d.i]) {
		v = v*10 + int64(d.b[d.i]-'0')
		d.i++
	}
	n := d.i - start
	if n == 0 || n > 18 || (n > 1 && d.b[start] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return v, true
}

func (d *fastDecoder) bool(dst *bool) bool {
	d.i = skipSpace(d.b, d.i)
	if end, ok := scanLiteral(d.b, d.i, "true"); ok {
		*dst, d.i = true, end
		return true
	}
	if end, ok := scanLiteral(d.b, d.i, "false"); ok {
		*dst, d.i = false, end
		return true
	}
	return false
}

// null consumes a null literal if one is next.
func (d *fastDecoder) null() bool {
	d.i = skipSpace(d.b, d.i)
	if end, ok := scanLiteral(d.b, d.i, "null"); ok {
		d.i = end
		return true
	}
	return false
}

// raw reads any JSON value verbatim, as json.RawMessage does.
func (d *fastDecoder) raw(dst *json.RawMessage, intern bool) bool {
	d.i = skipSpace(d.b, d.i)
	end, ok := scanJSON(d.b, d.i, 0)
	if !ok {
		return false
	}
	v := d.b[d.i:end]
	d.i = end
	if intern {
		*dst = d.in.raw(v)
	} else {
		*dst = append(json.RawMessage(nil), v...)
	}
	return true
}

// time reads a time.Time the way time.Time.UnmarshalJSON does: the common
// "2006-01-02T15:04:05[.fraction]Z" form directly, anything else through
// UnmarshalJSON itself.
func (d *fastDecoder) time(dst *time.Time) bool {
	start := skipSpace(d.b, d.i)
	tok, plain, ok := d.stringToken()
	if !ok {
		return false
	}
	if plain {
		if string(tok) == "0001-01-01T00:00:00Z" {
			*dst = time.Time{} // what time.Date returns for it, cheaper
			return true
		}
		if t, ok := parseUTCTime(tok); ok {
			*dst = t
			return true
		}
	}
	return dst.UnmarshalJSON(d.b[start:d.i]) == nil
}

func (d *fastDecoder) optTime(dst **time.Time) bool {
	if d.null() {
		*dst = nil
		return true
	}
	t := new(time.Time)
	if !d.time(t) {
		return false
	}
	*dst = t
	return true
}

func (d *fastDecoder) duration(dst *Duration) bool {
	start := skipSpace(d.b, d.i)
	tok, plain, ok := d.stringToken()
	if !ok {
		return false
	}
	if plain {
		v, ok := d.in.duration(tok)
		*dst = v
		return ok
	}
	return dst.UnmarshalJSON(d.b[start:d.i]) == nil
}

// parseUTCTime parses exactly "YYYY-MM-DDTHH:MM:SS[.1-9 digits]Z" with the
// range checks of time's RFC 3339 parser, which returns the same value
// (time.Date in UTC) for this form; ok=false for anything else.
func parseUTCTime(s []byte) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		v := 0
		for _, c := range b {
			if !isDigit(c) {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		n := num(frac[1:])
		if n < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nsec = n
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// object reads one object's members in any order. field decodes the value
// of key k and names its bit; object gives up on an unknown key (field
// returns ok=false), a repeated one, or a value field rejects. Each value
// decoder gives up on anything it does not handle exactly like
// encoding/json. field does not escape, so the closures cost no allocation.
func (d *fastDecoder) object(field func(k []byte) (bit uint32, ok bool)) bool {
	var seen uint32
	for first := true; ; first = false {
		k, end, ok := d.member(first)
		if !ok || end {
			return ok
		}
		bit, ok := field(k)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

func (d *fastDecoder) event(ev *Event) bool {
	return d.object(func(k []byte) (bit uint32, ok bool) {
		ok = true
		switch string(k) {
		case "type":
			var t string
			bit, ok = 1<<0, d.str(&t, true)
			ev.Type = EventType(t)
		case "at":
			bit, ok = 1<<1, d.time(&ev.At)
		case "id":
			bit, ok = 1<<2, d.str(&ev.ID, false)
		case "if_version":
			bit, ok = 1<<3, d.uint64(&ev.IfVersion)
		case "schedule":
			bit, ev.Schedule = 1<<4, nil
			if !d.null() {
				ev.Schedule = new(Schedule)
				ok = d.schedule(ev.Schedule)
			}
		case "node":
			bit, ev.Node = 1<<5, nil
			if !d.null() {
				ev.Node = new(NodeInfo)
				ok = d.node(ev.Node)
			}
		case "run":
			bit, ev.Run = 1<<6, nil
			if !d.null() {
				ev.Run = new(Run)
				ok = d.run(ev.Run)
			}
		case "run_id":
			bit, ok = 1<<7, d.str(&ev.RunID, false)
		case "attempt":
			bit, ok = 1<<8, d.int(&ev.Attempt)
		case "instance":
			bit, ok = 1<<9, d.str(&ev.Instance, true)
		case "result":
			bit, ok = 1<<10, d.raw(&ev.Result, true)
		case "error":
			bit, ok = 1<<11, d.str(&ev.Error, true)
		case "not_before":
			bit, ok = 1<<12, d.optTime(&ev.NotBefore)
		case "handler":
			bit, ev.Handler = 1<<13, nil
			if !d.null() {
				ev.Handler = new(HandlerInfo)
				ok = d.handler(ev.Handler)
			}
		default:
			return 0, false
		}
		return bit, ok
	})
}

func (d *fastDecoder) schedule(s *Schedule) bool {
	return d.object(func(k []byte) (bit uint32, ok bool) {
		ok = true
		switch string(k) {
		case "id":
			bit, ok = 1<<0, d.str(&s.ID, false)
		case "handler":
			bit, ok = 1<<1, d.str(&s.Handler, true)
		case "method":
			bit, ok = 1<<2, d.str(&s.Method, true)
		case "params":
			bit, ok = 1<<3, d.raw(&s.Params, true)
		case "trigger":
			bit, ok = 1<<4, d.trigger(&s.Trigger)
		case "policy":
			bit, ok = 1<<5, d.policy(&s.Policy)
		case "start_at":
			bit, ok = 1<<6, d.optTime(&s.StartAt)
		case "end_at":
			bit, ok = 1<<7, d.optTime(&s.EndAt)
		case "max_runs":
			bit, ok = 1<<8, d.int(&s.MaxRuns)
		case "paused":
			bit, ok = 1<<9, d.bool(&s.Paused)
		case "version":
			bit, ok = 1<<10, d.uint64(&s.Version)
		case "created_at":
			bit, ok = 1<<11, d.time(&s.CreatedAt)
		case "updated_at":
			bit, ok = 1<<12, d.time(&s.UpdatedAt)
		case "last_nominal_at":
			bit, ok = 1<<13, d.optTime(&s.LastNominalAt)
		case "fired_runs":
			bit, ok = 1<<14, d.int(&s.FiredRuns)
		default:
			return 0, false
		}
		return bit, ok
	})
}

func (d *fastDecoder) trigger(t *trigger.Spec) bool {
	return d.object(func(k []byte) (bit uint32, ok bool) {
		ok = true
		switch string(k) {
		case "cron":
			bit, ok = 1<<0, d.str(&t.Cron, true)
		case "timezone":
			bit, ok = 1<<1, d.str(&t.Timezone, true)
		case "every":
			bit, ok = 1<<2, d.str(&t.Every, true)
		case "at":
			bit, ok = 1<<3, d.str(&t.At, false)
		default:
			return 0, false
		}
		return bit, ok
	})
}

func (d *fastDecoder) policy(p *Policy) bool {
	return d.object(func(k []byte) (bit uint32, ok bool) {
		ok = true
		switch string(k) {
		case "overlap":
			bit, ok = 1<<0, d.str(&p.Overlap, true)
		case "catchup_window":
			bit, ok = 1<<1, d.duration(&p.CatchupWindow)
		case "max_retries":
			bit, ok = 1<<2, d.int(&p.MaxRetries)
		case "retry_backoff":
			bit, ok = 1<<3, d.duration(&p.RetryBackoff)
		case "timeout":
			bit, ok = 1<<4, d.duration(&p.Timeout)
		case "jitter":
			bit, ok = 1<<5, d.duration(&p.Jitter)
		case "history_limit":
			bit, ok = 1<<6, d.int(&p.HistoryLimit)
		case "history_max_age":
			bit, ok = 1<<7, d.duration(&p.HistoryMaxAge)
		default:
			return 0, false
		}
		return bit, ok
	})
}

func (d *fastDecoder) run(r *Run) bool {
	return d.object(func(k []byte) (bit uint32, ok bool) {
		ok = true
		switch string(k) {
		case "id":
			bit, ok = 1<<0, d.str(&r.ID, false)
		case "schedule_id":
			bit, ok = 1<<1, d.str(&r.ScheduleID, false)
		case "nominal_at":
			bit, ok = 1<<2, d.time(&r.NominalAt)
		case "due_at":
			bit, ok = 1<<3, d.time(&r.DueAt)
		case "fired_at":
			bit, ok = 1<<4, d.time(&r.FiredAt)
		case "trigger":
			bit, ok = 1<<5, d.str(&r.Trigger, true)
		case "attempt":
			bit, ok = 1<<6, d.int(&r.Attempt)
		case "status":
			var st string
			bit, ok = 1<<7, d.str(&st, true)
			r.Status = RunStatus(st)
		case "handler_instance":
			bit, ok = 1<<8, d.str(&r.HandlerInstance, true)
		case "started_at":
			bit, ok = 1<<9, d.optTime(&r.StartedAt)
		case "finished_at":
			bit, ok = 1<<10, d.optTime(&r.FinishedAt)
		case "not_before":
			bit, ok = 1<<11, d.optTime(&r.NotBefore)
		case "result":
			bit, ok = 1<<12, d.raw(&r.Result, true)
		case "error":
			bit, ok = 1<<13, d.str(&r.Error, true)
		default:
			return 0, false
		}
		return bit, ok
	})
}

func (d *fastDecoder) node(n *NodeInfo) bool {
	return d.object(func(k []byte) (bit uint32, ok bool) {
		ok = true
		switch string(k) {
		case "id":
			bit, ok = 1<<0, d.str(&n.ID, false)
		case "http_addr":
			bit, ok = 1<<1, d.str(&n.HTTPAddr, false)
		case "raft_addr":
			bit, ok = 1<<2, d.str(&n.RaftAddr, false)
		case "zmq_addr":
			bit, ok = 1<<3, d.str(&n.ZMQAddr, false)
		default:
			return 0, false
		}
		return bit, ok
	})
}

func (d *fastDecoder) handler(h *HandlerInfo) bool {
	return d.object(func(k []byte) (bit uint32, ok bool) {
		ok = true
		switch string(k) {
		case "name":
			bit, ok = 1<<0, d.str(&h.Name, true)
		case "instance":
			bit, ok = 1<<1, d.str(&h.Instance, false)
		case "methods":
			bit, ok = 1<<2, d.strings(&h.Methods)
		case "capacity":
			bit, ok = 1<<3, d.int(&h.Capacity)
		case "registered_at":
			bit, ok = 1<<4, d.time(&h.RegisteredAt)
		default:
			return 0, false
		}
		return bit, ok
	})
}

// strings reads null (nil) or an array of strings ([] is empty, not nil,
// as with encoding/json).
func (d *fastDecoder) strings(dst *[]string) bool {
	if d.null() {
		*dst = nil
		return true
	}
	if !d.byte('[') {
		return false
	}
	out := []string{}
	if !d.byte(']') {
		for {
			var m string
			if !d.str(&m, true) {
				return false
			}
			out = append(out, m)
			if d.byte(']') {
				break
			}
			if !d.byte(',') {
				return false
			}
		}
	}
	*dst = out
	return true
}

// internEvents shares repeated strings of events decoded by encoding/json
// (the fallback path), as the fast path does while decoding.
func internEvents(events []Event, in *interner) {
	if in == nil {
		return
	}
	for i := range events {
		ev := &events[i]
		ev.Instance = in.str(ev.Instance)
		ev.Error = in.str(ev.Error)
		if s := ev.Schedule; s != nil {
			s.Handler, s.Method = in.str(s.Handler), in.str(s.Method)
			s.Trigger.Cron, s.Trigger.Timezone, s.Trigger.Every = in.str(s.Trigger.Cron), in.str(s.Trigger.Timezone), in.str(s.Trigger.Every)
			s.Policy.Overlap = in.str(s.Policy.Overlap)
		}
		if r := ev.Run; r != nil {
			r.Trigger, r.HandlerInstance, r.Error = in.str(r.Trigger), in.str(r.HandlerInstance), in.str(r.Error)
			r.Status = RunStatus(in.str(string(r.Status)))
		}
	}
}
