package wire

import (
	"unicode"
	"unicode/utf8"
)

// fieldID names a JSON key the decoder knows: the Message fields plus the
// messages array of a batch envelope.
type fieldID uint8

const (
	fieldUnknown fieldID = iota
	fieldV
	fieldType
	fieldName
	fieldInstance
	fieldMethods
	fieldCapacity
	fieldToken
	fieldFeatures
	fieldTerm
	fieldNodeID
	fieldLeaderID
	fieldLeaderEndpoint
	fieldHeartbeatMS
	fieldLiveness
	fieldInFlight
	fieldRunning
	fieldRunID
	fieldScheduleID
	fieldMethod
	fieldParams
	fieldNominalAt
	fieldFiredAt
	fieldAttempt
	fieldDeadline
	fieldOK
	fieldResult
	fieldError
	fieldStartedAt
	fieldFinishedAt
	fieldReason
	fieldMessages
)

// lookupField maps an unquoted key to its field: an exact match first,
// then encoding/json's case-insensitive match.
func lookupField(key []byte) fieldID {
	switch string(key) {
	case "v":
		return fieldV
	case "type":
		return fieldType
	case "name":
		return fieldName
	case "instance":
		return fieldInstance
	case "methods":
		return fieldMethods
	case "capacity":
		return fieldCapacity
	case "token":
		return fieldToken
	case "features":
		return fieldFeatures
	case "term":
		return fieldTerm
	case "node_id":
		return fieldNodeID
	case "leader_id":
		return fieldLeaderID
	case "leader_endpoint":
		return fieldLeaderEndpoint
	case "heartbeat_ms":
		return fieldHeartbeatMS
	case "liveness":
		return fieldLiveness
	case "in_flight":
		return fieldInFlight
	case "running":
		return fieldRunning
	case "run_id":
		return fieldRunID
	case "schedule_id":
		return fieldScheduleID
	case "method":
		return fieldMethod
	case "params":
		return fieldParams
	case "nominal_at":
		return fieldNominalAt
	case "fired_at":
		return fieldFiredAt
	case "attempt":
		return fieldAttempt
	case "deadline":
		return fieldDeadline
	case "ok":
		return fieldOK
	case "result":
		return fieldResult
	case "error":
		return fieldError
	case "started_at":
		return fieldStartedAt
	case "finished_at":
		return fieldFinishedAt
	case "reason":
		return fieldReason
	case "messages":
		return fieldMessages
	}
	return lookupFolded(key)
}

// maxFoldKey bounds the keys worth folding: every field name has at most
// 16 characters, and a character is at most 4 bytes of UTF-8.
const maxFoldKey = 4 * 16

// lookupFolded is the case-insensitive match of encoding/json: both sides
// folded with foldName and compared.
func lookupFolded(key []byte) fieldID {
	if len(key) > maxFoldKey {
		return fieldUnknown
	}
	var arr [maxFoldKey]byte
	switch string(appendFoldedName(arr[:0], key)) {
	case "V":
		return fieldV
	case "TYPE":
		return fieldType
	case "NAME":
		return fieldName
	case "INSTANCE":
		return fieldInstance
	case "METHODS":
		return fieldMethods
	case "CAPACITY":
		return fieldCapacity
	case "TOKEN":
		return fieldToken
	case "FEATURES":
		return fieldFeatures
	case "TERM":
		return fieldTerm
	case "NODE_ID":
		return fieldNodeID
	case "LEADER_ID":
		return fieldLeaderID
	case "LEADER_ENDPOINT":
		return fieldLeaderEndpoint
	case "HEARTBEAT_MS":
		return fieldHeartbeatMS
	case "LIVENESS":
		return fieldLiveness
	case "IN_FLIGHT":
		return fieldInFlight
	case "RUNNING":
		return fieldRunning
	case "RUN_ID":
		return fieldRunID
	case "SCHEDULE_ID":
		return fieldScheduleID
	case "METHOD":
		return fieldMethod
	case "PARAMS":
		return fieldParams
	case "NOMINAL_AT":
		return fieldNominalAt
	case "FIRED_AT":
		return fieldFiredAt
	case "ATTEMPT":
		return fieldAttempt
	case "DEADLINE":
		return fieldDeadline
	case "OK":
		return fieldOK
	case "RESULT":
		return fieldResult
	case "ERROR":
		return fieldError
	case "STARTED_AT":
		return fieldStartedAt
	case "FINISHED_AT":
		return fieldFinishedAt
	case "REASON":
		return fieldReason
	case "MESSAGES":
		return fieldMessages
	}
	return fieldUnknown
}

// appendFoldedName is encoding/json's: ASCII letters upper-cased, other
// runes replaced by the smallest rune of their case-fold orbit.
func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
