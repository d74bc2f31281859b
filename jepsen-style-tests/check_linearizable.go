package jepsen

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// crudInput is a porcupine operation's input.
type crudInput struct {
	Kind  OpKind
	Key   string
	Value string // create, update
}

// crudOutput is what the client observed. Unknown outcomes are modelled as
// "took effect if its precondition held at its linearization point", and
// get Return = math.MaxInt64 so that the point may be any time after the
// call — including after every other operation, which is "never".
type crudOutput struct {
	Outcome Outcome
	Result  string // ResultNotFound or ResultAlreadyExists for OutcomeFail
	Read    string // get
}

// crudState is the per-key state of the model.
type crudState struct {
	Exists bool
	Value  string
}

// crudModel is the sequential specification of one schedule ID:
// create succeeds iff the ID is absent (else 409), update and delete
// succeed iff it exists (else 404), get returns the state (404 iff absent).
var crudModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return crudState{} },
	Step: func(state, input, output any) (bool, any) {
		return stepCRUD(state.(crudState), input.(crudInput), output.(crudOutput))
	},
	Equal: func(a, b any) bool { return a.(crudState) == b.(crudState) },
	Hash: func(state any) uint64 {
		s := state.(crudState)
		h := fnv.New64a()
		if s.Exists {
			h.Write([]byte{1})
		}
		h.Write([]byte(s.Value))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(crudInput), output.(crudOutput)
		arg := ""
		if in.Value != "" {
			arg = ", " + in.Value
		}
		res := "ok"
		switch {
		case out.Outcome == OutcomeUnknown:
			res = "unknown"
		case out.Outcome == OutcomeFail:
			res = out.Result
		case in.Kind == OpGet:
			res = out.Read
		}
		return fmt.Sprintf("%s(%s%s) → %s", in.Kind, in.Key, arg, res)
	},
	DescribeState: func(state any) string {
		if s := state.(crudState); s.Exists {
			return s.Value
		}
		return "∅"
	},
	DescribeOperationMetadata: func(info any) string {
		if s, ok := info.(string); ok {
			return s
		}
		return ""
	},
}

func stepCRUD(s crudState, in crudInput, out crudOutput) (bool, crudState) {
	absent := crudState{}
	written := crudState{Exists: true, Value: in.Value}
	switch in.Kind {
	case OpCreate:
		switch out.Outcome {
		case OutcomeOK:
			return !s.Exists, written
		case OutcomeFail:
			return s.Exists, s
		}
		if !s.Exists {
			return true, written
		}
		return true, s
	case OpUpdate:
		switch out.Outcome {
		case OutcomeOK:
			return s.Exists, written
		case OutcomeFail:
			return !s.Exists, s
		}
		if s.Exists {
			return true, written
		}
		return true, s
	case OpDelete:
		switch out.Outcome {
		case OutcomeOK:
			return s.Exists, absent
		case OutcomeFail:
			return !s.Exists, s
		}
		return true, absent
	default: // OpGet
		if out.Outcome == OutcomeFail {
			return !s.Exists, s
		}
		return s.Exists && s.Value == out.Read, s
	}
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(crudInput).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	slices.Sort(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// LinearizableCRUD checks that the schedule CRUD history, partitioned per
// schedule ID, is linearizable with porcupine, final reads included.
type LinearizableCRUD struct {
	// Timeout bounds the search; a search that times out is inconclusive.
	Timeout time.Duration
}

// Name implements Checker.
func (LinearizableCRUD) Name() string { return "linearizable-crud" }

// Check implements Checker.
func (c LinearizableCRUD) Check(h *History) Result {
	ops, dropped := porcupineOps(h)
	result, _ := porcupine.CheckOperationsVerbose(crudModel, ops, c.Timeout)
	summary := fmt.Sprintf("%d operations in %d keys (%d unobservable or failed reads/writes left out)",
		len(ops), len(partitionByKey(ops)), dropped)
	switch result {
	case porcupine.Ok:
		return pass(c.Name(), "linearizable: %s", summary)
	case porcupine.Unknown:
		return Result{Verdict: VerdictInconclusive, Summary: fmt.Sprintf("search timed out after %s: %s", c.Timeout, summary)}
	}
	r := fail(c.Name(), nil, "NOT linearizable: %s", summary)
	r.Artifacts = map[string][]byte{}
	for _, part := range partitionByKey(ops) {
		key := part[0].Input.(crudInput).Key
		res, info := porcupine.CheckOperationsVerbose(crudModel, part, c.Timeout)
		if res != porcupine.Illegal {
			continue
		}
		r.Details = append(r.Details, explainViolation(key, part, info, h)...)
		info.AddAnnotations(nemesisAnnotations(h))
		var buf bytes.Buffer
		if err := porcupine.Visualize(crudModel, info, &buf); err == nil {
			r.Artifacts["porcupine-"+key+".html"] = buf.Bytes()
		}
	}
	return r
}

// porcupineOps converts the history (and the final reads) into porcupine
// operations, leaving out what cannot constrain the state: reads without a
// definite answer, writes that certainly had no effect, and unknown updates
// whose value nobody ever read (etcd's patchHistory: removing such a write
// keeps a linearizable history linearizable and shrinks the search).
func porcupineOps(h *History) ([]porcupine.Operation, int) {
	observed := observedValues(h)
	var out []porcupine.Operation
	dropped := 0
	for _, op := range h.Ops {
		if !constrains(op, observed) {
			dropped++
			continue
		}
		ret := op.CompleteNS
		if op.Outcome == OutcomeUnknown {
			ret = math.MaxInt64
		}
		out = append(out, porcupine.Operation{
			ClientId: op.Client,
			Input:    crudInput{Kind: op.Kind, Key: op.Key, Value: op.Value},
			Call:     op.InvokeNS,
			Output:   crudOutput{Outcome: op.Outcome, Result: op.Result, Read: op.Read},
			Return:   ret,
			Metadata: strings.TrimSpace(fmt.Sprintf("#%d via %s %s", op.Index, op.Node, op.Error)),
		})
	}
	finalClient := 0 // the final reads get the row after the last client
	for _, op := range h.Ops {
		finalClient = max(finalClient, op.Client+1)
	}
	for _, fr := range h.Final.Reads {
		if fr.Error != "" {
			continue
		}
		o := crudOutput{Outcome: OutcomeOK, Read: fr.Value}
		if !fr.Exists {
			o = crudOutput{Outcome: OutcomeFail, Result: ResultNotFound}
		}
		out = append(out, porcupine.Operation{
			ClientId: finalClient, Input: crudInput{Kind: OpGet, Key: fr.Key},
			Call: fr.InvokeNS, Output: o, Return: fr.CompleteNS, Metadata: "final read",
		})
	}
	return out, dropped
}

func constrains(op Op, observed map[string]bool) bool {
	switch {
	case op.Kind == OpGet:
		return op.Outcome == OutcomeOK || op.Result == ResultNotFound
	case op.Outcome == OutcomeOK:
		return true
	case op.Outcome == OutcomeFail:
		return op.Result == ResultNotFound || op.Result == ResultAlreadyExists
	case op.Kind == OpUpdate:
		return observed[op.Value]
	}
	return true
}

// observedValues is every value some read returned.
func observedValues(h *History) map[string]bool {
	seen := map[string]bool{}
	for _, op := range h.Ops {
		if op.Kind == OpGet && op.Outcome == OutcomeOK {
			seen[op.Read] = true
		}
	}
	for _, fr := range h.Final.Reads {
		if fr.Exists {
			seen[fr.Value] = true
		}
	}
	for _, lists := range []map[string]map[string]string{h.Final.Lists, h.Final.StaleLists} {
		for _, l := range lists {
			for _, v := range l {
				seen[v] = true
			}
		}
	}
	return seen
}

// explainViolation describes where the longest linearization of key's
// history gets stuck: its last steps, the state they leave, and the pending
// operation with the earliest return — which every linearization must
// place next, and which no order explains.
func explainViolation(key string, part []porcupine.Operation, info porcupine.LinearizationInfo, h *History) []string {
	origin := h.StartNS
	var longest []porcupine.Operation
	for _, p := range info.PartialLinearizationsOperations() {
		for _, lin := range p {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	// Unknown writes at the end of the prefix were placed speculatively
	// (they may linearize at any later point): leave them out of the story.
	for len(longest) > 0 && longest[len(longest)-1].Return == math.MaxInt64 {
		longest = longest[:len(longest)-1]
	}
	state := crudState{}
	for _, op := range longest {
		_, state = stepCRUD(state, op.Input.(crudInput), op.Output.(crudOutput))
	}
	placed := map[[2]int64]bool{}
	for _, op := range longest {
		placed[[2]int64{op.Call, int64(op.ClientId)}] = true
	}
	var pending []porcupine.Operation
	for _, op := range part {
		if !placed[[2]int64{op.Call, int64(op.ClientId)}] {
			pending = append(pending, op)
		}
	}
	slices.SortFunc(pending, func(a, b porcupine.Operation) int { return cmp.Compare(a.Return, b.Return) })
	lines := []string{fmt.Sprintf("key %s: only %d of %d operations linearize", key, len(longest), len(part))}
	for _, op := range longest[max(0, len(longest)-3):] {
		lines = append(lines, "    linearized:   "+describePorcupineOp(op, origin))
	}
	lines = append(lines, "    state then:   "+crudModel.DescribeState(state))
	if len(pending) > 0 {
		lines = append(lines, fmt.Sprintf("    stuck on:     %s — during %s", describePorcupineOp(pending[0], origin), windowAt(h, pending[0].Call)))
	}
	for _, op := range pending[1:min(3, len(pending))] {
		lines = append(lines, "    also pending: "+describePorcupineOp(op, origin))
	}
	return lines
}

// windowAt names the schedule window containing t.
func windowAt(h *History, t int64) string {
	for _, w := range h.Windows {
		if t >= w.StartNS && t < w.EndNS {
			if w.Kind == WindowFault {
				return "fault " + w.Nemesis
			}
			return "a healthy window"
		}
	}
	return "no window"
}

func describePorcupineOp(op porcupine.Operation, origin int64) string {
	ret := "∞"
	if op.Return != math.MaxInt64 {
		ret = relTime(op.Return, origin)
	}
	meta, _ := op.Metadata.(string)
	return fmt.Sprintf("%-40s [%s, %s] client %d %s", crudModel.DescribeOperation(op.Input, op.Output),
		relTime(op.Call, origin), ret, op.ClientId, meta)
}

// nemesisAnnotations marks the fault windows in porcupine's visualisation.
func nemesisAnnotations(h *History) []porcupine.Annotation {
	var out []porcupine.Annotation
	for _, w := range h.Windows {
		if w.Kind != WindowFault {
			continue
		}
		out = append(out, porcupine.Annotation{Tag: "nemesis", Start: w.StartNS, End: w.EndNS,
			Description: w.Nemesis, BackgroundColor: "#f8d7da"})
	}
	for _, ev := range h.Nemesis {
		out = append(out, porcupine.Annotation{Tag: "nemesis actions", Start: ev.StartNS, End: ev.EndNS,
			Description: ev.Nemesis + " " + ev.Phase, Details: fmt.Sprintf("%v %s %s", ev.Targets, ev.Detail, ev.Error)})
	}
	return out
}
