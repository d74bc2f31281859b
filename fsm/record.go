package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"
)

// Canonical record encoding. Every stored record (schedule, run, node,
// handler) has exactly one byte encoding, written by the append* functions
// below. It is what the digest hashes and what a version-2 snapshot stores,
// so a restore hashes the bytes it reads and a later Apply that replaces the
// record hashes the same bytes again when it takes the old record out of
// the digest.
//
// Two records have the same encoding exactly when their JSON (API) forms are
// equal: times are (Unix seconds, nanoseconds, UTC offset) — the location's
// name and the monotonic reading are not part of the state, as in JSON;
// nil and empty raw JSON are both absent; a nil *time.Time differs from a
// zero one. Integers are varints (zig-zag for signed), strings and raw JSON
// are length-prefixed, optional times carry a presence byte. Fields are in
// declaration order; adding a field to a record type means adding it here,
// in the decoder, and in TestRecord_Complete.

// Record kinds: the domain byte hashed in front of each record.
const (
	kindSchedule byte = 's'
	kindNode     byte = 'n'
	kindRun      byte = 'r'
	kindHandler  byte = 'h'
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendRaw(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendInt(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendTime(b []byte, t time.Time) []byte {
	_, off := t.Zone()
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	return binary.AppendVarint(b, int64(off))
}

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, 0)
	}
	return appendTime(append(b, 1), *t)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendSchedule(b []byte, s *Schedule) []byte {
	b = appendString(b, s.ID)
	b = appendString(b, s.Handler)
	b = appendString(b, s.Method)
	b = appendRaw(b, s.Params)
	b = appendString(b, s.Trigger.Cron)
	b = appendString(b, s.Trigger.Timezone)
	b = appendString(b, s.Trigger.Every)
	b = appendString(b, s.Trigger.At)
	p := &s.Policy
	b = appendString(b, p.Overlap)
	b = appendInt(b, int64(p.CatchupWindow))
	b = appendInt(b, int64(p.MaxRetries))
	b = appendInt(b, int64(p.RetryBackoff))
	b = appendInt(b, int64(p.Timeout))
	b = appendInt(b, int64(p.Jitter))
	b = appendInt(b, int64(p.HistoryLimit))
	b = appendInt(b, int64(p.HistoryMaxAge))
	b = appendOptTime(b, s.StartAt)
	b = appendOptTime(b, s.EndAt)
	b = appendInt(b, int64(s.MaxRuns))
	b = appendBool(b, s.Paused)
	b = binary.AppendUvarint(b, s.Version)
	b = appendTime(b, s.CreatedAt)
	b = appendTime(b, s.UpdatedAt)
	b = appendOptTime(b, s.LastNominalAt)
	return appendInt(b, int64(s.FiredRuns))
}

func appendRun(b []byte, r *Run) []byte {
	b = appendString(b, r.ID)
	b = appendString(b, r.ScheduleID)
	b = appendTime(b, r.NominalAt)
	b = appendTime(b, r.DueAt)
	b = appendTime(b, r.FiredAt)
	b = appendString(b, r.Trigger)
	b = appendInt(b, int64(r.Attempt))
	b = appendString(b, string(r.Status))
	b = appendString(b, r.HandlerInstance)
	b = appendOptTime(b, r.StartedAt)
	b = appendOptTime(b, r.FinishedAt)
	b = appendOptTime(b, r.NotBefore)
	b = appendRaw(b, r.Result)
	return appendString(b, r.Error)
}

func appendNode(b []byte, n *NodeInfo) []byte {
	b = appendString(b, n.ID)
	b = appendString(b, n.HTTPAddr)
	b = appendString(b, n.RaftAddr)
	return appendString(b, n.ZMQAddr)
}

func appendHandler(b []byte, h *HandlerInfo) []byte {
	b = appendString(b, h.Name)
	b = appendString(b, h.Instance)
	if h.Methods == nil { // JSON null, not []
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(h.Methods))+1)
		for _, m := range h.Methods {
			b = appendString(b, m)
		}
	}
	b = appendInt(b, int64(h.Capacity))
	return appendTime(b, h.RegisteredAt)
}

// hasher computes record hashes with a reused buffer. The zero value is
// ready; it is not safe for concurrent use.
type hasher struct{ buf []byte }

func (h *hasher) sum() [sha256.Size]byte { return sha256.Sum256(h.buf) }

func (h *hasher) schedule(s *Schedule) [sha256.Size]byte {
	h.buf = appendSchedule(append(h.buf[:0], kindSchedule), s)
	return h.sum()
}

func (h *hasher) run(r *Run) [sha256.Size]byte {
	h.buf = appendRun(append(h.buf[:0], kindRun), r)
	return h.sum()
}

func (h *hasher) node(n *NodeInfo) [sha256.Size]byte {
	h.buf = appendNode(append(h.buf[:0], kindNode), n)
	return h.sum()
}

func (h *hasher) handler(v *HandlerInfo) [sha256.Size]byte {
	h.buf = appendHandler(append(h.buf[:0], kindHandler), v)
	return h.sum()
}

func xorInto(dst *[sha256.Size]byte, h [sha256.Size]byte) {
	for i := range dst {
		dst[i] ^= h[i]
	}
}

// errRecord is the cause of every record decoding failure; callers wrap it
// into ErrCorrupt with context.
var errRecord = errors.New("malformed record")

// recordDecoder reads the canonical encoding. Errors are sticky: after the
// first one every read returns a zero value, so decode functions check err
// once at the end. It never panics on any input.
type recordDecoder struct {
	b     []byte
	err   error
	in    *interner
	zones map[int]*time.Location
}

func (d *recordDecoder) fail() {
	if d.err == nil {
		d.err = errRecord
	}
	d.b = nil
}

func (d *recordDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) int() int { return int(d.varint()) }

func (d *recordDecoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// str reads a string; a state only ever holds valid UTF-8 (it came through
// JSON), so anything else is corrupt.
func (d *recordDecoder) str(intern bool) string {
	v := d.bytes()
	if !utf8.Valid(v) {
		d.fail()
		return ""
	}
	if intern {
		return d.in.bytes(v)
	}
	return string(v)
}

// raw reads raw JSON, which must be valid and in the canonical form Apply
// stores (canonRaw).
func (d *recordDecoder) raw() json.RawMessage {
	v := d.bytes()
	if len(v) == 0 {
		return nil
	}
	if end, ok := scanJSON(v, 0, 0); !ok || end != len(v) || !isCanonRaw(v) {
		d.fail()
		return nil
	}
	return d.in.raw(v)
}

func (d *recordDecoder) bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *recordDecoder) time() time.Time {
	sec, nsec, off := d.varint(), d.uvarint(), d.varint()
	if d.err != nil {
		return time.Time{}
	}
	if sec == -62135596800 && nsec == 0 && off == 0 {
		return time.Time{} // the zero time is the common case of "unset"
	}
	// JSON (RFC 3339) carries whole-minute offsets below 24h and years
	// 0000-9999 in the time's own zone; a state holds nothing else.
	const (
		minSec = -62167219200 // 0000-01-01T00:00:00Z
		maxSec = 253402300800 // 10000-01-01T00:00:00Z
	)
	if nsec >= 1e9 || off%60 != 0 || off <= -86400 || off >= 86400 || sec < minSec-86400 || sec >= maxSec+86400 {
		d.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if off != 0 {
		loc, ok := d.zones[int(off)]
		if !ok {
			if d.zones == nil {
				d.zones = make(map[int]*time.Location)
			}
			loc = time.FixedZone("", int(off))
			d.zones[int(off)] = loc
		}
		t = t.In(loc)
	}
	if sec < minSec+86400 || sec >= maxSec-86400 { // the zone decides the year
		if y := t.Year(); y < 0 || y > 9999 {
			d.fail()
			return time.Time{}
		}
	}
	return t
}

func (d *recordDecoder) optTime() *time.Time {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail()
		return nil
	}
	present := d.b[0] == 1
	d.b = d.b[1:]
	if !present {
		return nil
	}
	t := d.time()
	return &t
}

func (d *recordDecoder) duration() Duration { return Duration(d.varint()) }

// done reports the first error, or errRecord when bytes are left over.
func (d *recordDecoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errRecord
	}
	return d.err
}

func (d *recordDecoder) schedule(b []byte) (*Schedule, error) {
	d.b, d.err = b, nil
	s := &Schedule{}
	s.ID = d.str(false)
	s.Handler = d.str(true)
	s.Method = d.str(true)
	s.Params = d.raw()
	s.Trigger.Cron = d.str(true)
	s.Trigger.Timezone = d.str(true)
	s.Trigger.Every = d.str(true)
	s.Trigger.At = d.str(false)
	p := &s.Policy
	p.Overlap = d.str(true)
	p.CatchupWindow = d.duration()
	p.MaxRetries = d.int()
	p.RetryBackoff = d.duration()
	p.Timeout = d.duration()
	p.Jitter = d.duration()
	p.HistoryLimit = d.int()
	p.HistoryMaxAge = d.duration()
	s.StartAt = d.optTime()
	s.EndAt = d.optTime()
	s.MaxRuns = d.int()
	s.Paused = d.bool()
	s.Version = d.uvarint()
	s.CreatedAt = d.time()
	s.UpdatedAt = d.time()
	s.LastNominalAt = d.optTime()
	s.FiredRuns = d.int()
	if err := d.done(); err != nil {
		return nil, err
	}
	if s.ID == "" {
		return nil, errRecord
	}
	return s, nil
}

func (d *recordDecoder) run(b []byte) (*Run, error) {
	d.b, d.err = b, nil
	r := &Run{}
	r.ID = d.str(false)
	r.ScheduleID = d.str(false)
	r.NominalAt = d.time()
	r.DueAt = d.time()
	r.FiredAt = d.time()
	r.Trigger = d.str(true)
	r.Attempt = d.int()
	r.Status = RunStatus(d.str(true))
	r.HandlerInstance = d.str(true)
	r.StartedAt = d.optTime()
	r.FinishedAt = d.optTime()
	r.NotBefore = d.optTime()
	r.Result = d.raw()
	r.Error = d.str(true)
	if err := d.done(); err != nil {
		return nil, err
	}
	if r.ID == "" || r.ScheduleID == "" {
		return nil, errRecord
	}
	return r, nil
}

func (d *recordDecoder) node(b []byte) (*NodeInfo, error) {
	d.b, d.err = b, nil
	n := &NodeInfo{ID: d.str(false), HTTPAddr: d.str(false), RaftAddr: d.str(false), ZMQAddr: d.str(false)}
	if err := d.done(); err != nil {
		return nil, err
	}
	if n.ID == "" {
		return nil, errRecord
	}
	return n, nil
}

func (d *recordDecoder) handler(b []byte) (*HandlerInfo, error) {
	d.b, d.err = b, nil
	h := &HandlerInfo{Name: d.str(true), Instance: d.str(false)}
	if n := d.uvarint(); n > 0 {
		if n-1 > uint64(len(d.b)) { // each method takes at least one byte
			d.fail()
		} else {
			h.Methods = make([]string, 0, n-1)
			for range n - 1 {
				h.Methods = append(h.Methods, d.str(true))
			}
		}
	}
	h.Capacity = d.int()
	h.RegisteredAt = d.time()
	if err := d.done(); err != nil {
		return nil, err
	}
	if h.Instance == "" {
		return nil, errRecord
	}
	return h, nil
}

// isCanonRaw reports whether valid raw JSON v is already in the form
// json.Marshal emits for a json.RawMessage (compact, with <, >, &, U+2028
// and U+2029 escaped). The check is conservative: it may say false for
// canonical input with a space inside a string; canonRaw then finds the
// compacted form equal and keeps it.
func isCanonRaw(v []byte) bool {
	for _, c := range v {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xE2:
			return canonRawSlow(v) == nil
		}
	}
	return true
}

// canonRawSlow returns the canonical form of v if it differs from v, nil
// when v is canonical (or not valid JSON, which the caller has excluded).
func canonRawSlow(v []byte) []byte {
	c, err := json.Marshal(json.RawMessage(v))
	if err != nil || bytes.Equal(c, v) {
		return nil
	}
	return c
}

// canonRaw returns raw JSON in the form json.Marshal emits it, so the
// stored bytes are what the API and a JSON snapshot show, whatever
// whitespace the log entry carried. v must be valid JSON (Decode checked).
func canonRaw(v json.RawMessage) json.RawMessage {
	for _, c := range v {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xE2:
			if c := canonRawSlow(v); c != nil {
				return c
			}
			return v
		}
	}
	return v
}

// scanJSON checks that b[i:] starts with one valid JSON value (RFC 8259, as
// encoding/json accepts it: any bytes ≥ 0x20 inside strings) and returns
// the index after it, skipping no whitespace after the value. depth bounds
// nesting; beyond maxScanDepth it reports false (callers fall back to
// encoding/json, which decides).
func scanJSON(b []byte, i, depth int) (int, bool) {
	const maxScanDepth = 512
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		if depth >= maxScanDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			var ok bool
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = scanString(b, i); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = scanJSON(b, i+1, depth+1); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			if b[i] == '}' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i++
		}
	case c == '[':
		if depth >= maxScanDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = scanJSON(b, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			if b[i] == ']' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i++
		}
	case c == '"':
		return scanString(b, i)
	case c == '-' || ('0' <= c && c <= '9'):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return i, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}

// scanString checks the string token starting at b[i] == '"' and returns
// the index after the closing quote.
func scanString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default:
			i++
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}
