package jepsen

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client"
)

const sec = int64(time.Second)

// hist builds a sealed history over key "k" from ops given as
// "kind value outcome/result read invoke complete" tuples.
type opSpec struct {
	client        int
	kind          OpKind
	value         string
	outcome       Outcome
	result        string
	read          string
	invoke, until int64 // seconds
}

func history(finalExists bool, finalValue string, specs ...opSpec) *History {
	h := &History{Keys: []string{"k"}, StartNS: 0, EndNS: 100 * sec}
	for _, s := range specs {
		h.AddOp(Op{Client: s.client, Node: "n1", Kind: s.kind, Key: "k", Value: s.value, Outcome: s.outcome,
			Result: s.result, Read: s.read, InvokeNS: s.invoke * sec, CompleteNS: s.until * sec})
	}
	h.Final.Reads = []FinalRead{{Key: "k", Exists: finalExists, Value: finalValue, InvokeNS: 90 * sec, CompleteNS: 91 * sec}}
	list := map[string]string{}
	if finalExists {
		list["k"] = finalValue
	}
	h.Final.Lists = map[string]map[string]string{"n1": list}
	h.Final.StaleLists = map[string]map[string]string{"n1": list}
	h.Seal()
	return h
}

func TestLinearizableCRUD_Check(t *testing.T) {
	t.Parallel()
	c := LinearizableCRUD{Timeout: 10 * time.Second}
	for name, tc := range map[string]struct {
		h    *History
		want Verdict
	}{
		"OK": {history(true, "b",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{1, OpGet, "", OutcomeOK, "", "a", 3, 4},
			opSpec{0, OpUpdate, "b", OutcomeOK, "", "", 5, 6},
			opSpec{1, OpCreate, "c", OutcomeFail, ResultAlreadyExists, "", 7, 8},
		), VerdictPass},
		"StaleRead": {history(true, "b",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{0, OpUpdate, "b", OutcomeOK, "", "", 3, 4},
			opSpec{1, OpGet, "", OutcomeOK, "", "a", 5, 6},
		), VerdictFail},
		"ConcurrentReadMaySeeEither": {history(true, "b",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{0, OpUpdate, "b", OutcomeOK, "", "", 3, 6},
			opSpec{1, OpGet, "", OutcomeOK, "", "a", 4, 5},
		), VerdictPass},
		"UnknownWriteSeenLate": {history(true, "a",
			opSpec{0, OpCreate, "a", OutcomeUnknown, "timeout", "", 1, 2},
			opSpec{1, OpGet, "", OutcomeFail, ResultNotFound, "", 3, 4},
			opSpec{1, OpGet, "", OutcomeOK, "", "a", 5, 6},
		), VerdictPass},
		"UnknownWriteNeverApplied": {history(false, "",
			opSpec{0, OpCreate, "a", OutcomeUnknown, "no_leader", "", 1, 2},
			opSpec{1, OpGet, "", OutcomeFail, ResultNotFound, "", 3, 4},
		), VerdictPass},
		"ReadOfUnwrittenValue": {history(false, "",
			opSpec{1, OpGet, "", OutcomeOK, "", "zzz", 3, 4},
		), VerdictFail},
		"ConflictOnAbsentID": {history(false, "",
			opSpec{0, OpCreate, "a", OutcomeFail, ResultAlreadyExists, "", 1, 2},
		), VerdictFail},
		"NotFoundAfterAckedCreate": {history(true, "a",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{1, OpDelete, "", OutcomeFail, ResultNotFound, "", 3, 4},
		), VerdictFail},
		"DeleteThenRecreate": {history(true, "c",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{1, OpDelete, "", OutcomeOK, "", "", 3, 4},
			opSpec{0, OpUpdate, "b", OutcomeFail, ResultNotFound, "", 5, 6},
			opSpec{1, OpCreate, "c", OutcomeOK, "", "", 7, 8},
		), VerdictPass},
		"FinalReadContradicts": {history(false, "",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
		), VerdictFail},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := c.Check(tc.h)
			require.Equal(t, tc.want, r.Verdict, "%s\n%s", r.Summary, strings.Join(r.Details, "\n"))
			if tc.want == VerdictFail {
				require.NotEmpty(t, r.Details)
				require.Contains(t, r.Artifacts, "porcupine-k.html")
			}
		})
	}
}

func TestNoLostNoPhantom_Check(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		h    *History
		want string // "" = pass, else a substring of the details
	}{
		"OK": {history(true, "b",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{0, OpUpdate, "b", OutcomeOK, "", "", 3, 4},
		), ""},
		"Lost": {history(false, "",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
		), "LOST"},
		"DeletedByUnknownDelete": {history(false, "",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{1, OpDelete, "", OutcomeUnknown, "timeout", "", 0, 1},
		), ""},
		"Phantom": {history(true, "x",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
		), "PHANTOM"},
		"FailedWriteIsPhantom": {history(true, "x",
			opSpec{0, OpCreate, "x", OutcomeFail, ResultAlreadyExists, "", 1, 2},
		), "PHANTOM"},
		"LostUpdate": {history(true, "a",
			opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2},
			opSpec{0, OpUpdate, "b", OutcomeOK, "", "", 3, 4},
		), "LOST UPDATE"},
		"UnknownCreateIsNotJudgedHere": {history(true, "a",
			opSpec{0, OpCreate, "a", OutcomeUnknown, "timeout", "", 1, 2},
			opSpec{1, OpUpdate, "b", OutcomeOK, "", "", 3, 4},
		), ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := NoLostNoPhantom{}.Check(tc.h)
			if tc.want == "" {
				require.True(t, r.OK(), "%s: %v", r.Summary, r.Details)
				return
			}
			require.Equal(t, VerdictFail, r.Verdict)
			require.Contains(t, strings.Join(r.Details, "\n"), tc.want)
		})
	}
}

func TestNoLostNoPhantom_Lists(t *testing.T) {
	t.Parallel()
	h := history(true, "a", opSpec{0, OpCreate, "a", OutcomeOK, "", "", 1, 2})
	h.Final.Lists["n2"] = map[string]string{"k": "a", "ghost": "g"}
	r := NoLostNoPhantom{}.Check(h)
	require.Equal(t, VerdictFail, r.Verdict)
	require.Contains(t, strings.Join(r.Details, "\n"), `PHANTOM schedule "ghost"`)
}

func TestConvergence_Check(t *testing.T) {
	t.Parallel()
	good := []NodeState{{Node: "n1", Applied: 10, Digest: "d"}, {Node: "n2", Applied: 10, Digest: "d"}}
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := history(false, "")
		h.Final.Nodes, h.Final.QuiescedNS = good, 1
		require.True(t, Convergence{}.Check(h).OK())
	})
	t.Run("ErrDigest", func(t *testing.T) {
		t.Parallel()
		h := history(false, "")
		h.Final.Nodes, h.Final.QuiescedNS = []NodeState{good[0], {Node: "n2", Applied: 10, Digest: "e"}}, 1
		require.False(t, Convergence{}.Check(h).OK())
	})
	t.Run("ErrStaleState", func(t *testing.T) {
		t.Parallel()
		h := history(false, "")
		h.Final.Nodes, h.Final.QuiescedNS = good, 1
		h.Final.StaleLists["n2"] = map[string]string{"k": "old"}
		r := Convergence{}.Check(h)
		require.False(t, r.OK())
		require.Contains(t, strings.Join(r.Details, "\n"), "local state of n2")
	})
	t.Run("ErrTwoLeadersInATerm", func(t *testing.T) {
		t.Parallel()
		h := history(false, "")
		h.Final.Nodes, h.Final.QuiescedNS = good, 1
		for i, node := range []string{"n1", "n2", "n1", "n2"} {
			h.Observations = append(h.Observations, Observation{AtNS: int64(i), Node: node, State: "leader", Term: 4})
		}
		require.False(t, Convergence{}.Check(h).OK())
	})
}

func TestLeaderTerms(t *testing.T) {
	t.Parallel()
	obs := []Observation{
		{Node: "n1", State: "leader", Term: 2}, {Node: "n2", State: "follower", Term: 2},
		{Node: "n1", State: "leader", Term: 3}, // torn read while stepping down: seen once
		{Node: "n2", State: "leader", Term: 3}, {Node: "n2", State: "leader", Term: 3},
	}
	leaders, conflicts := LeaderTerms(obs)
	require.Len(t, leaders, 2)
	require.Empty(t, conflicts)
}

func TestLiveness_Check(t *testing.T) {
	t.Parallel()
	l := Liveness{LeaderBound: 10 * time.Second, RecoveryBound: 5 * time.Second, Blip: time.Second}
	h := history(false, "",
		opSpec{0, OpGet, "", OutcomeFail, ResultNotFound, "", 1, 2},
		opSpec{0, OpGet, "", OutcomeOK, "", "x", 3, 4},
		opSpec{0, OpGet, "", OutcomeOK, "", "x", 30, 31},
	)
	h.Windows = []Window{{Kind: WindowFault, Nemesis: "kill-leader", StartNS: 5 * sec, EndNS: 10 * sec}}
	h.Final.HealNS, h.Final.LeaderNS = 40*sec, 41*sec
	r := l.Check(h)
	require.False(t, r.OK(), "no success within 5s of the fault's end")
	require.Contains(t, strings.Join(r.Details, "\n"), "unavailable 27s from 4.000s to 31.000s during kill-leader")

	h.Final.LeaderNS = 0
	require.Contains(t, strings.Join(l.Check(h).Details, "\n"), "no ready leader")
}

func TestWorkload_Check(t *testing.T) {
	t.Parallel()
	h := history(false, "")
	h.Windows = []Window{{Kind: WindowHealthy, StartNS: 0, EndNS: 10 * sec}}
	r := Workload{MinHealthyRate: 1}.Check(h)
	require.False(t, r.OK(), "an idle run must not pass")
	require.Contains(t, strings.Join(r.Details, "\n"), "below the minimum")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	dial := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}
	read := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "read", Err: errors.New("connection reset")}}
	for _, tc := range []struct {
		err     error
		outcome Outcome
		result  string
	}{
		{nil, OutcomeOK, ""},
		{&client.APIError{Status: 404, Code: "not_found"}, OutcomeFail, ResultNotFound},
		{&client.APIError{Status: 409, Code: "already_exists"}, OutcomeFail, ResultAlreadyExists},
		{&client.APIError{Status: 409, Code: "version_conflict"}, OutcomeFail, ResultUnexpected},
		{&client.APIError{Status: 400, Code: "invalid_argument"}, OutcomeFail, ResultInvalid},
		{&client.APIError{Status: 503, Code: "no_leader"}, OutcomeUnknown, "no_leader"},
		{&client.APIError{Status: 503, Code: "timeout"}, OutcomeUnknown, "timeout"},
		{&client.APIError{Status: 502}, OutcomeUnknown, "Bad Gateway"},
		{dial, OutcomeFail, ResultUnreachable},
		{read, OutcomeUnknown, "transport"},
		{fmt.Errorf("wrapped: %w", &url.Error{Op: "Get", Err: errDeadline{}}), OutcomeUnknown, "transport"},
	} {
		outcome, result, _ := classify(tc.err)
		require.Equal(t, tc.outcome, outcome, "%v", tc.err)
		require.Equal(t, tc.result, result, "%v", tc.err)
	}
}

type errDeadline struct{}

func (errDeadline) Error() string { return "deadline" }

func TestRunSchedule_IsSeeded(t *testing.T) {
	t.Parallel()
	// The choice of nemesis order and windows depends only on the seed.
	order := func(seed int64) []string {
		cfg := Config{Seed: seed}.withDefaults()
		names := cfg.Nemeses
		e := &env{rng: newScheduleRNG(seed), cfg: cfg}
		var out []string
		for i := range 5 {
			out = append(out, fmt.Sprintf("%s/%s", e.uniform(cfg.HealthyMin, cfg.HealthyMax), names[i]))
		}
		return out
	}
	require.Equal(t, order(3), order(3))
	require.NotEqual(t, order(3), order(4))
}
