package wire

import (
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoder is hand-written for the same reason as the encoder. It
// accepts exactly what encoding/json.Unmarshal into a Message accepts and
// yields the same Message (FuzzDecode compares the two on arbitrary input):
// RFC 8259 syntax, nesting up to 10,000 levels, keys matched first exactly
// and then case-insensitively (with encoding/json's folding), the last of
// duplicate keys winning, null leaving scalar fields alone and clearing
// slices and pointers (a null params or result is kept as the raw value
// null), unknown keys skipped, and any value of the wrong JSON type, any
// number that does not fit its field and any time that is not an RFC 3339
// string making the frame malformed.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

var (
	errSyntax = errors.New("invalid JSON")
	errType   = errors.New("value of the wrong type")
	errDepth  = errors.New("nesting too deep")
)

// Decode parses a frame holding exactly one message. It checks size,
// syntax, version and that the type is known with its required fields
// (Validate). A batch frame is malformed here: receivers that negotiated
// batching use DecodeFrame.
//
// Allocation budget: one string per non-empty string field (known types
// are interned), one slice per raw JSON or string-array field, one
// time.Time per time field.
func Decode(frame []byte) (Message, error) {
	var m Message
	if len(frame) > MaxFrameBytes {
		return m, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(frame))
	}
	if err := decodeDocument(frame, &m, nil); err != nil {
		return m, err
	}
	return m, checkMessage(&m)
}

// DecodeFrame decodes one frame, which holds a single message or a batch
// (docs/protocol.md, "Batching"), and appends its messages to dst in order.
// A frame rejected as a whole returns an error wrapping ErrTooLarge,
// ErrMalformed or ErrVersion and appends nothing: one that is too large,
// not valid JSON, with a field of the wrong type, of another version, a
// single message of unknown type or without a required field, or a batch
// whose messages field is not an array of 1 to MaxBatchMessages elements.
// Each element of a batch is checked as a frame of its own would be; an
// invalid element, including a nested batch, is skipped and counted in
// dropped while the others are returned.
//
// Allocation budget: as Decode per message, plus growing dst.
func DecodeFrame(dst []Message, frame []byte) (msgs []Message, dropped int, err error) {
	if len(frame) > MaxFrameBytes {
		return dst, 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(frame))
	}
	var env envelope
	dst = append(dst, Message{})
	m := &dst[len(dst)-1]
	if err := decodeDocument(frame, m, &env); err != nil {
		return dst[:len(dst)-1], 0, err
	}
	if m.V != Version || m.Type != TypeBatch {
		if err := checkMessage(m); err != nil {
			return dst[:len(dst)-1], 0, err
		}
		return dst, 0, nil
	}
	dst = dst[:len(dst)-1]
	return decodeBatch(dst, frame, &env)
}

// checkMessage applies the version and Validate checks of a single message.
func checkMessage(m *Message) error {
	if m.V != Version {
		return fmt.Errorf("%w: %d", ErrVersion, m.V)
	}
	return m.Validate()
}

// envelope records the messages field of a batch frame while the frame is
// parsed as a message: the span of its latest array value, and whether any
// occurrence held something other than an array or null.
type envelope struct {
	start, end int
	bad        bool
}

// decodeBatch decodes the elements of a batch frame whose envelope has
// been parsed.
func decodeBatch(dst []Message, frame []byte, env *envelope) ([]Message, int, error) {
	if env.bad || env.end == 0 {
		return dst, 0, fmt.Errorf("%w: batch without a messages array", ErrMalformed)
	}
	base := len(dst)
	p := parser{data: frame[:env.end], pos: env.start + 1, depth: 2}
	dropped, n := 0, 0
	p.ws()
	for p.data[p.pos] != ']' {
		n++
		if n > MaxBatchMessages {
			return dst[:base], 0, fmt.Errorf("%w: batch of more than %d messages", ErrMalformed, MaxBatchMessages)
		}
		dst = append(dst, Message{})
		m := &dst[len(dst)-1]
		err := p.value(m, nil)
		if errors.Is(err, errSyntax) || errors.Is(err, errDepth) {
			// Impossible: the whole frame was validated before.
			return dst[:base], 0, fmt.Errorf("%w: %w in batch element %d", ErrMalformed, err, n)
		}
		if err != nil || checkMessage(m) != nil {
			dst = dst[:len(dst)-1]
			dropped++
		}
		p.ws()
		if p.data[p.pos] == ',' {
			p.pos++
			p.ws()
		}
	}
	if n == 0 {
		return dst[:base], 0, fmt.Errorf("%w: empty batch", ErrMalformed)
	}
	return dst, dropped, nil
}

// decodeDocument parses frame as one JSON value into m, as
// json.Unmarshal(frame, m) would.
func decodeDocument(frame []byte, m *Message, env *envelope) error {
	p := parser{data: frame}
	p.ws()
	if err := p.value(m, env); err != nil {
		return fmt.Errorf("%w: %w at offset %d", ErrMalformed, err, p.pos)
	}
	p.ws()
	if p.pos != len(p.data) {
		return fmt.Errorf("%w: %w: data after the message at offset %d", ErrMalformed, errSyntax, p.pos)
	}
	return nil
}

// parser walks one JSON text. It validates everything it passes over.
type parser struct {
	data  []byte
	pos   int
	depth int
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

// value decodes the value at p.pos into m: an object is a message, null
// leaves m alone, anything else is the wrong type (errType). Unless the
// error is a syntax or depth error, p.pos is past the value on return.
func (p *parser) value(m *Message, env *envelope) error {
	start := p.pos
	var err error
	switch p.peek() {
	case '{':
		err = p.object(m, env)
	case 'n':
		err = p.literal("null")
	default:
		err = p.skip()
		if err == nil {
			err = errType
		}
	}
	if errors.Is(err, errType) {
		// Pass over the rest of the value so that a batch can go on with
		// the next element (every container entered has been left: depth
		// is restored by the decoding functions on return).
		p.pos = start
		if serr := p.skip(); serr != nil {
			return serr
		}
	}
	return err
}

// object decodes an object into m.
func (p *parser) object(m *Message, env *envelope) error {
	if err := p.enter(); err != nil {
		return err
	}
	depth := p.depth
	defer func() { p.depth = depth - 1 }()
	p.pos++ // {
	p.ws()
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		if p.peek() != '"' {
			return errSyntax
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.peek() != ':' {
			return errSyntax
		}
		p.pos++
		p.ws()
		if err := p.field(lookupField(key), m, env); err != nil {
			return err
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.pos++
			p.ws()
		case '}':
			p.pos++
			return nil
		default:
			return errSyntax
		}
	}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errDepth
	}
	return nil
}

// field decodes the value at p.pos into field f of m.
func (p *parser) field(f fieldID, m *Message, env *envelope) error {
	switch f {
	case fieldV:
		return p.intField(&m.V)
	case fieldType:
		return p.typeField(&m.Type)
	case fieldName:
		return p.stringField(&m.Name)
	case fieldInstance:
		return p.stringField(&m.Instance)
	case fieldMethods:
		return p.stringsField(&m.Methods)
	case fieldCapacity:
		return p.intField(&m.Capacity)
	case fieldToken:
		return p.stringField(&m.Token)
	case fieldFeatures:
		return p.stringsField(&m.Features)
	case fieldTerm:
		return p.uintField(&m.Term)
	case fieldNodeID:
		return p.stringField(&m.NodeID)
	case fieldLeaderID:
		return p.stringField(&m.LeaderID)
	case fieldLeaderEndpoint:
		return p.stringField(&m.LeaderEndpoint)
	case fieldHeartbeatMS:
		return p.intField(&m.HeartbeatMS)
	case fieldLiveness:
		return p.intField(&m.Liveness)
	case fieldInFlight:
		return p.intField(&m.InFlight)
	case fieldRunning:
		return p.stringsField(&m.Running)
	case fieldRunID:
		return p.stringField(&m.RunID)
	case fieldScheduleID:
		return p.stringField(&m.ScheduleID)
	case fieldMethod:
		return p.stringField(&m.Method)
	case fieldParams:
		return p.rawField((*[]byte)(&m.Params))
	case fieldNominalAt:
		return p.timeField(&m.NominalAt)
	case fieldFiredAt:
		return p.timeField(&m.FiredAt)
	case fieldAttempt:
		return p.intField(&m.Attempt)
	case fieldDeadline:
		return p.timeField(&m.Deadline)
	case fieldOK:
		return p.boolField(&m.OK)
	case fieldResult:
		return p.rawField((*[]byte)(&m.Result))
	case fieldError:
		return p.stringField(&m.Error)
	case fieldStartedAt:
		return p.timeField(&m.StartedAt)
	case fieldFinishedAt:
		return p.timeField(&m.FinishedAt)
	case fieldReason:
		return p.stringField(&m.Reason)
	case fieldMessages:
		return p.messagesField(env)
	}
	return p.skip() // unknown key
}

func (p *parser) stringField(dst *string) error {
	switch p.peek() {
	case '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		*dst = string(s)
		return nil
	case 'n':
		return p.literal("null")
	}
	return p.wrongType()
}

func (p *parser) typeField(dst *Type) error {
	switch p.peek() {
	case '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		*dst = internType(s)
		return nil
	case 'n':
		return p.literal("null")
	}
	return p.wrongType()
}

func internType(s []byte) Type {
	switch string(s) {
	case "hello":
		return TypeHello
	case "welcome":
		return TypeWelcome
	case "redirect":
		return TypeRedirect
	case "heartbeat":
		return TypeHeartbeat
	case "dispatch":
		return TypeDispatch
	case "accepted":
		return TypeAccepted
	case "reject":
		return TypeReject
	case "result":
		return TypeResult
	case "result_ack":
		return TypeResultAck
	case "cancel":
		return TypeCancel
	case "goodbye":
		return TypeGoodbye
	case "batch":
		return TypeBatch
	}
	return Type(s)
}

func (p *parser) intField(dst *int) error {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		lit, err := p.number()
		if err != nil {
			return err
		}
		v, ok := parseInt(lit)
		if !ok {
			return errType
		}
		*dst = v
		return nil
	case c == 'n':
		return p.literal("null")
	}
	return p.wrongType()
}

func (p *parser) uintField(dst *uint64) error {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		lit, err := p.number()
		if err != nil {
			return err
		}
		v, ok := parseUint(lit)
		if !ok {
			return errType
		}
		*dst = v
		return nil
	case c == 'n':
		return p.literal("null")
	}
	return p.wrongType()
}

func (p *parser) boolField(dst *bool) error {
	switch p.peek() {
	case 't':
		*dst = true
		return p.literal("true")
	case 'f':
		*dst = false
		return p.literal("false")
	case 'n':
		return p.literal("null")
	}
	return p.wrongType()
}

// stringsField decodes an array of strings (null elements are "").
func (p *parser) stringsField(dst *[]string) error {
	switch p.peek() {
	case 'n':
		*dst = nil
		return p.literal("null")
	case '[':
	default:
		return p.wrongType()
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	p.pos++
	p.ws()
	out := []string{}
	if p.peek() == ']' {
		p.pos++
		*dst = out
		return nil
	}
	for {
		switch p.peek() {
		case '"':
			s, err := p.str()
			if err != nil {
				return err
			}
			out = append(out, string(s))
		case 'n':
			if err := p.literal("null"); err != nil {
				return err
			}
			out = append(out, "")
		default:
			return p.wrongType()
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.pos++
			p.ws()
		case ']':
			p.pos++
			*dst = out
			return nil
		default:
			return errSyntax
		}
	}
}

// rawField copies any value (null included, as json.RawMessage does).
func (p *parser) rawField(dst *[]byte) error {
	start := p.pos
	if err := p.skip(); err != nil {
		return err
	}
	*dst = append((*dst)[:0], p.data[start:p.pos]...)
	return nil
}

func (p *parser) timeField(dst **time.Time) error {
	start := p.pos
	switch p.peek() {
	case 'n':
		*dst = nil
		return p.literal("null")
	case '"':
		if _, err := p.strSpan(); err != nil {
			return err
		}
	default:
		return p.wrongType()
	}
	if *dst == nil {
		*dst = new(time.Time)
	}
	// Exactly what encoding/json does: the quoted literal, escapes and all.
	if err := (*dst).UnmarshalJSON(p.data[start:p.pos]); err != nil {
		return errType
	}
	return nil
}

// messagesField records the messages array of a batch envelope. Its type
// matters only when the frame turns out to be a batch.
func (p *parser) messagesField(env *envelope) error {
	start := p.pos
	c := p.peek()
	if err := p.skip(); err != nil {
		return err
	}
	if env == nil {
		return nil
	}
	switch c {
	case '[':
		env.start, env.end = start, p.pos
	case 'n':
		env.start, env.end = 0, 0
	default:
		env.bad = true
	}
	return nil
}

// wrongType validates the value at p.pos and reports it as the wrong type.
func (p *parser) wrongType() error {
	if err := p.skip(); err != nil {
		return err
	}
	return errType
}

// skip validates and passes over one value.
func (p *parser) skip() error {
	switch c := p.peek(); {
	case c == '{':
		return p.skipContainer('}')
	case c == '[':
		return p.skipContainer(']')
	case c == '"':
		_, err := p.strSpan()
		return err
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := p.number()
		return err
	}
	return errSyntax
}

func (p *parser) skipContainer(end byte) error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++
	p.ws()
	if p.peek() == end {
		p.pos++
		p.depth--
		return nil
	}
	for {
		if end == '}' {
			if p.peek() != '"' {
				return errSyntax
			}
			if _, err := p.strSpan(); err != nil {
				return err
			}
			p.ws()
			if p.peek() != ':' {
				return errSyntax
			}
			p.pos++
			p.ws()
		}
		if err := p.skip(); err != nil {
			return err
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.pos++
			p.ws()
		case end:
			p.pos++
			p.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

func (p *parser) literal(lit string) error {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return errSyntax
	}
	p.pos += len(lit)
	return nil
}

// number passes over a JSON number and returns its literal.
func (p *parser) number() ([]byte, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	switch c := p.peek(); {
	case c == '0':
		p.pos++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return nil, errSyntax
	}
	if p.peek() == '.' {
		p.pos++
		if !p.digits() {
			return nil, errSyntax
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if !p.digits() {
			return nil, errSyntax
		}
	}
	return p.data[start:p.pos], nil
}

func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

// parseInt parses a JSON number literal as strconv.ParseInt(lit, 10, 64)
// would: integers only, within int64.
func parseInt(lit []byte) (int, bool) {
	neg := len(lit) > 0 && lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	u, ok := parseDigits(lit)
	switch {
	case !ok:
		return 0, false
	case neg && u <= 1<<63:
		return int(-int64(u)), true //nolint:gosec // u ≤ 2^63 checked
	case !neg && u < 1<<63:
		return int(u), true
	}
	return 0, false
}

// parseUint parses a JSON number literal as strconv.ParseUint(lit, 10, 64).
func parseUint(lit []byte) (uint64, bool) {
	if len(lit) > 0 && lit[0] == '-' {
		return 0, false
	}
	return parseDigits(lit)
}

func parseDigits(lit []byte) (uint64, bool) {
	if len(lit) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false // fraction or exponent
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

// str passes over a string and returns its unquoted content. The result
// aliases the input when no unquoting is needed.
func (p *parser) str() ([]byte, error) {
	start := p.pos
	simple, err := p.strSpan()
	if err != nil {
		return nil, err
	}
	content := p.data[start+1 : p.pos-1]
	if simple {
		return content, nil
	}
	return unquote(content), nil
}

// strSpan passes over a string, validating it; simple reports that its
// content is valid UTF-8 without escapes.
func (p *parser) strSpan() (simple bool, err error) {
	p.pos++ // "
	start := p.pos
	simple, ascii := true, true
	data := p.data
	for p.pos < len(data) {
		// Fast path: plain printable ASCII.
		i := p.pos
		for i < len(data) && plainByte[data[i]] {
			i++
		}
		p.pos = i
		if i == len(data) {
			break
		}
		switch c := data[i]; {
		case c == '"':
			p.pos++
			return simple && (ascii || utf8.Valid(data[start:i])), nil
		case c == '\\':
			simple = false
			if err := p.escape(); err != nil {
				return false, err
			}
		case c < ' ':
			return false, errSyntax
		default: // ≥ 0x80
			ascii = false
			p.pos++
		}
	}
	return false, errSyntax
}

// plainByte marks the bytes a string may contain without a second look:
// printable ASCII other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape validates one escape sequence at p.pos.
func (p *parser) escape() error {
	if p.pos+1 >= len(p.data) {
		return errSyntax
	}
	switch p.data[p.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		p.pos += 2
		return nil
	case 'u':
		if p.pos+6 > len(p.data) {
			return errSyntax
		}
		for _, c := range p.data[p.pos+2 : p.pos+6] {
			if hexValue(c) < 0 {
				return errSyntax
			}
		}
		p.pos += 6
		return nil
	}
	return errSyntax
}

func hexValue(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		v := hexValue(c)
		if v < 0 {
			return -1
		}
		r = r*16 + v
	}
	return r
}

// unquote decodes the content of a validated string as encoding/json
// does: escapes resolved, invalid UTF-8 and unpaired surrogates replaced
// by U+FFFD.
func unquote(s []byte) []byte {
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch e := s[r+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // " \ /
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return b
}

// validValue reports whether raw is exactly one JSON value, optionally
// surrounded by whitespace (json.Valid for a single value).
func validValue(raw []byte) bool {
	p := parser{data: raw}
	p.ws()
	if p.skip() != nil {
		return false
	}
	p.ws()
	return p.pos == len(raw)
}
