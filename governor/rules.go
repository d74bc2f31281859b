package governor

import (
	"fmt"
	"slices"
)

// ruleSet is an immutable set of blocked directed pairs {from, to}. Traffic
// from or to a client is never blocked, nor is a process talking to itself.
type ruleSet map[[2]string]struct{}

func (r ruleSet) allows(from, to string) bool {
	if from == clientID || to == clientID || from == to {
		return true
	}
	_, blocked := r[[2]string{from, to}]
	return !blocked
}

// pairs lists the blocked pairs in a stable order.
func (r ruleSet) pairs() [][2]string {
	out := make([][2]string, 0, len(r))
	for p := range r {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if c := compareIDs(a[0], b[0]); c != 0 {
			return c
		}
		return compareIDs(a[1], b[1])
	})
	return out
}

// compareIDs orders n2 before n10 and nodes before handlers.
func compareIDs(a, b string) int {
	ka, ia, oka := parseID(a)
	kb, ib, okb := parseID(b)
	if oka && okb && ka != kb {
		if ka == KindNode {
			return -1
		}
		return 1
	}
	if !oka || !okb {
		if a < b {
			return -1
		} else if a > b {
			return 1
		}
		return 0
	}
	return ia - ib
}

// partitionRules blocks both directions between members of different
// groups. A process may appear in one group only.
func partitionRules(groups [][]string) (ruleSet, error) {
	if len(groups) < 2 {
		return nil, fmt.Errorf("%w: a partition needs at least two groups", ErrInvalidArgument)
	}
	seen := map[string]int{}
	for gi, g := range groups {
		if len(g) == 0 {
			return nil, fmt.Errorf("%w: group %d is empty", ErrInvalidArgument, gi+1)
		}
		for _, id := range g {
			if prev, dup := seen[id]; dup {
				return nil, fmt.Errorf("%w: %s is in groups %d and %d", ErrInvalidArgument, id, prev+1, gi+1)
			}
			seen[id] = gi
		}
	}
	rs := ruleSet{}
	for a, ga := range seen {
		for b, gb := range seen {
			if ga != gb {
				rs[[2]string{a, b}] = struct{}{}
			}
		}
	}
	return rs, nil
}

// oneWayRules blocks bytes from every member of from to every member of to.
func oneWayRules(from, to []string) (ruleSet, error) {
	if len(from) == 0 || len(to) == 0 {
		return nil, fmt.Errorf("%w: a one-way partition needs a non-empty from and to", ErrInvalidArgument)
	}
	rs := ruleSet{}
	for _, a := range from {
		for _, b := range to {
			if a == b {
				return nil, fmt.Errorf("%w: %s is on both sides", ErrInvalidArgument, a)
			}
			rs[[2]string{a, b}] = struct{}{}
		}
	}
	return rs, nil
}
