// Package wire defines the messages exchanged between ScheduleZero nodes and
// handler processes over ZeroMQ, and their encoding. It is shared by the
// node side (dispatch/) and the SDK (handlerclient/); docs/protocol.md is
// the normative description for implementers in other languages.
//
// Every ZeroMQ message carries exactly one frame holding one JSON object
// with a protocol version "v" and a "type". Frames larger than MaxFrameBytes
// are rejected by Decode without being parsed. Peers that both announce
// the "batch" feature (hello.features, echoed in welcome.features) may
// also send batch frames, one JSON object of type "batch" holding several
// messages; DecodeFrame expands them and AppendBatch builds them.
//
// Encode/AppendEncode and Decode/DecodeFrame are hand-written equivalents
// of encoding/json for Message (encode.go, decode.go); the fuzz tests hold
// them to encoding/json's behaviour.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the protocol version this package speaks.
const Version = 1

// MaxFrameBytes bounds one frame (params are limited to 64 KiB by the API;
// results are truncated by the SDK to fit).
const MaxFrameBytes = 256 << 10

// Type names a message kind.
type Type string

// Message types. Direction: H = handler, N = node.
const (
	TypeHello     Type = "hello"      // H→N register (or re-register) an instance
	TypeWelcome   Type = "welcome"    // N→H registration committed; carries the leader's term
	TypeRedirect  Type = "redirect"   // N→H this node is not the leader
	TypeHeartbeat Type = "heartbeat"  // both ways, every HeartbeatInterval
	TypeDispatch  Type = "dispatch"   // N→H run this job
	TypeAccepted  Type = "accepted"   // H→N the job was taken (recorded for dedupe)
	TypeReject    Type = "reject"     // H→N the dispatch was refused (stale term, unknown method, full)
	TypeResult    Type = "result"     // H→N the job finished
	TypeResultAck Type = "result_ack" // N→H the result is committed; the handler may forget it
	TypeCancel    Type = "cancel"     // N→H stop the job (overlap cancel_other, timeout)
	TypeGoodbye   Type = "goodbye"    // either way: orderly close

	// TypeBatch is the type of a batch frame's envelope, which carries
	// other messages (batch.go). It is framing, never the Type of a
	// Message returned by DecodeFrame, and Validate rejects it.
	TypeBatch Type = "batch"
)

// Sentinel errors of Decode.
var (
	// ErrTooLarge: the frame exceeds MaxFrameBytes.
	ErrTooLarge = errors.New("wire: frame too large")
	// ErrMalformed: the frame is not a valid message.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrVersion: the message's protocol version is not supported.
	ErrVersion = errors.New("wire: unsupported protocol version")
)

// Message is the single frame type. Fields are used per Type as documented
// in docs/protocol.md; unused fields are omitted on the wire.
type Message struct {
	V    int  `json:"v"`
	Type Type `json:"type"`

	// hello
	Name     string   `json:"name,omitempty"`     // handler name (what schedules target)
	Instance string   `json:"instance,omitempty"` // unique per process start
	Methods  []string `json:"methods,omitempty"`
	Capacity int      `json:"capacity,omitempty"` // max concurrent jobs = credits
	Token    string   `json:"token,omitempty"`    // optional shared secret
	// Features (hello, welcome) lists optional protocol features: in
	// hello those the handler supports, in welcome those of the hello's
	// that the node supports and will use. The transport sets it.
	Features []string `json:"features,omitempty"`

	// welcome / redirect / heartbeat / dispatch: the sender's Raft term,
	// used as the fencing token. Handlers reject dispatches whose term is
	// lower than the highest they have seen.
	Term     uint64 `json:"term,omitempty"`
	NodeID   string `json:"node_id,omitempty"`
	LeaderID string `json:"leader_id,omitempty"`
	// LeaderEndpoint is the leader's advertised ZeroMQ endpoint (redirect).
	LeaderEndpoint string `json:"leader_endpoint,omitempty"`
	// HeartbeatMS and Liveness announce the timing the node expects (welcome).
	HeartbeatMS int `json:"heartbeat_ms,omitempty"`
	Liveness    int `json:"liveness,omitempty"`
	InFlight    int `json:"in_flight,omitempty"` // heartbeat from handler
	// Running lists (hello) the run IDs the instance is executing or holds
	// an unacknowledged result for, so a new leader re-dispatches an
	// interrupted run to the instance that already has it instead of
	// starting it a second time elsewhere.
	Running []string `json:"running,omitempty"`

	// dispatch / accepted / reject / result / result_ack / cancel
	RunID      string          `json:"run_id,omitempty"`
	ScheduleID string          `json:"schedule_id,omitempty"`
	Method     string          `json:"method,omitempty"`
	Params     json.RawMessage `json:"params,omitempty"`
	NominalAt  *time.Time      `json:"nominal_at,omitempty"`
	FiredAt    *time.Time      `json:"fired_at,omitempty"`
	Attempt    int             `json:"attempt,omitempty"`
	Deadline   *time.Time      `json:"deadline,omitempty"`

	// result
	OK         bool            `json:"ok,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      string          `json:"error,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`

	// reject / goodbye / cancel
	Reason string `json:"reason,omitempty"`
}

// Validate checks that the fields a message type requires are present.
func (m Message) Validate() error {
	missing := func(f string) error { return fmt.Errorf("%w: %s without %s", ErrMalformed, m.Type, f) }
	switch m.Type {
	case TypeHello:
		switch {
		case m.Name == "":
			return missing("name")
		case m.Instance == "":
			return missing("instance")
		case m.Capacity < 1:
			return missing("capacity ≥ 1")
		}
	case TypeDispatch, TypeAccepted, TypeReject, TypeResult, TypeResultAck, TypeCancel:
		if m.RunID == "" {
			return missing("run_id")
		}
		if m.Type == TypeDispatch && (m.Method == "" || m.Term == 0 || m.Attempt < 1) {
			return missing("method, term and attempt")
		}
	case TypeWelcome, TypeRedirect, TypeHeartbeat, TypeGoodbye:
	default:
		return fmt.Errorf("%w: unknown type %q", ErrMalformed, m.Type)
	}
	return nil
}
