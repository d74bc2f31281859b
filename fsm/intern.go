package fsm

import "time"

// interner hands out one shared copy of short strings and raw JSON values
// that repeat across records (handler and method names, trigger
// expressions, time zones, overlap policy, small params and results, run
// statuses, handler instances, common errors). A million schedules created
// by the same client then share "bench", "run", `{"n":1}` and "0 0 1 1 *"
// instead of holding a million copies each.
//
// Interning changes no value, only which backing array a value uses, so it
// needs no determinism: nodes may intern differently. The table is bounded
// (short values only; cleared when full, so a flood of distinct values
// cannot grow it and common values get interned again afterwards). A nil
// *interner copies without sharing. Not safe for concurrent use.
type interner struct {
	strs map[string]string
	raws map[string][]byte
	durs map[string]Duration // parsed duration strings ("1h", "10m", …)
	// recent is a direct-mapped cache in front of strs: the few values
	// that repeat in every record (statuses, triggers, handler and method
	// names) are found with one comparison instead of a map lookup.
	recent [256]string
}

func recentSlot(b []byte) uint8 { return uint8(len(b)*31) ^ b[0]*7 ^ b[len(b)-1] }

const (
	internMaxLen     = 64
	internMaxEntries = 1 << 14
)

func newInterner() *interner {
	return &interner{strs: make(map[string]string), raws: make(map[string][]byte), durs: make(map[string]Duration)}
}

// bytes returns b as a string, shared when it is short.
func (in *interner) bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if in == nil || len(b) > internMaxLen {
		return string(b)
	}
	slot := recentSlot(b)
	if s := in.recent[slot]; s == string(b) {
		return s
	}
	s, ok := in.strs[string(b)]
	if !ok {
		if len(in.strs) >= internMaxEntries {
			clear(in.strs)
		}
		s = string(b)
		in.strs[s] = s
	}
	in.recent[slot] = s
	return s
}

// str returns the shared copy of s.
func (in *interner) str(s string) string {
	if in == nil || len(s) == 0 || len(s) > internMaxLen {
		return s
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) >= internMaxEntries {
		clear(in.strs)
	}
	in.strs[s] = s
	return s
}

// raw returns a copy of b that callers must treat as immutable, shared when
// it is short. Its capacity equals its length, so an append by a careless
// reader reallocates instead of writing into the shared array.
func (in *interner) raw(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if in != nil && len(b) <= internMaxLen {
		if v, ok := in.raws[string(b)]; ok {
			return v
		}
	}
	v := make([]byte, len(b))
	copy(v, b)
	if in != nil && len(b) <= internMaxLen {
		if len(in.raws) >= internMaxEntries {
			clear(in.raws)
		}
		in.raws[string(v)] = v
	}
	return v
}

// duration parses a duration string as Duration.UnmarshalJSON does
// (ok=false for what it rejects), remembering short ones.
func (in *interner) duration(b []byte) (Duration, bool) {
	if in != nil {
		if v, ok := in.durs[string(b)]; ok {
			return v, true
		}
	}
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		return 0, false
	}
	if in != nil && len(b) <= internMaxLen {
		if len(in.durs) >= internMaxEntries {
			clear(in.durs)
		}
		in.durs[string(b)] = Duration(v)
	}
	return Duration(v), true
}
