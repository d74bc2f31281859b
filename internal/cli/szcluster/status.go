package szcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

// defaultProbeTimeout bounds each member's /v1/cluster/self in status.
const defaultProbeTimeout = 2 * time.Second

func statusCmd() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Short: "One-screen health summary of the node at --addr and its cluster",
		Long: `Shows the node's Raft state, leader, term, commit and applied index, state
digest and readiness, the member count, and for every member whether its
HTTP address answers, with its state, applied index and digest. Exits 1
when the node is not ready (/readyz) or its members cannot be listed.`,
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			probeTimeout := fs.Duration("timeout", defaultProbeTimeout, "timeout of each member probe")
			return func(ctx context.Context, inv *cli.Invocation) error {
				st, err := collectStatus(ctx, inv, *probeTimeout)
				if err != nil {
					return err
				}
				if inv.JSON() {
					err = inv.PrintJSON(st.jsonView())
				} else {
					err = st.print(inv)
				}
				if err != nil {
					return err
				}
				return st.verdict()
			}
		},
	}
}

// status is what the status command gathered.
type status struct {
	self       *client.Self
	ready      bool
	readyErr   error
	members    []client.Member
	membersErr error
	probes     []probe // parallel to members
}

// probe is one member's answer to GET /v1/cluster/self.
type probe struct {
	self *client.Self
	err  error
}

func collectStatus(ctx context.Context, inv *cli.Invocation, probeTimeout time.Duration) (*status, error) {
	c, err := inv.Client()
	if err != nil {
		return nil, err
	}
	self, err := c.Self(ctx)
	if err != nil {
		return nil, err
	}
	st := &status{self: self}
	st.ready, st.readyErr = c.Readyz(ctx)
	st.members, st.membersErr = c.Members(ctx)
	st.probes, err = probeMembers(ctx, inv, c.Addr(), st.members, probeTimeout)
	return st, err
}

// probeMembers fetches every member's self concurrently.
func probeMembers(ctx context.Context, inv *cli.Invocation, base string, ms []client.Member, timeout time.Duration) ([]probe, error) {
	probes := make([]probe, len(ms))
	clients := make([]*client.Client, len(ms))
	for i, m := range ms {
		if m.HTTPAddr == "" {
			probes[i].err = errors.New("no HTTP address known")
			continue
		}
		c, err := inv.ClientFor(withScheme(base, m.HTTPAddr), client.WithTimeout(timeout))
		if err != nil {
			probes[i].err = err
			continue
		}
		clients[i] = c
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		if c == nil {
			continue
		}
		wg.Go(func() { probes[i].self, probes[i].err = c.Self(ctx) })
	}
	wg.Wait()
	return probes, ctx.Err()
}

// withScheme gives a member address without a scheme the scheme of the
// --addr the user chose (https stays https).
func withScheme(base, addr string) string {
	if strings.Contains(addr, "://") {
		return addr
	}
	scheme, _, _ := strings.Cut(base, "://")
	return scheme + "://" + addr
}

// verdict is the command's error: not ready, or members not listable.
func (st *status) verdict() error {
	switch {
	case st.readyErr != nil:
		return fmt.Errorf("node %s: readiness unknown: %w", st.self.ID, st.readyErr)
	case !st.ready:
		return fmt.Errorf("node %s is not ready", st.self.ID)
	case st.membersErr != nil:
		return fmt.Errorf("listing members: %w", st.membersErr)
	}
	return nil
}

func (st *status) print(inv *cli.Invocation) error {
	s := st.self
	t := inv.Table()
	t.Row("Node:", fmt.Sprintf("%s (%s)", cli.Dash(s.ID), cli.Dash(s.HTTPAddr)))
	t.Row("State:", cli.Dash(s.State))
	t.Row("Leader:", leaderText(s))
	if s.State != "leader" && s.LastContactMS > 0 {
		t.Row("Last contact:", (time.Duration(s.LastContactMS) * time.Millisecond).String())
	}
	t.Row("Term:", s.Term)
	t.Row("Commit index:", s.CommitIndex)
	t.Row("Applied index:", s.AppliedIndex)
	t.Row("Digest:", cli.Dash(s.Digest))
	t.Row("Schedules:", s.Schedules)
	t.Row("Ready:", st.readyText())
	t.Row("Members:", st.membersText())
	if err := t.Flush(); err != nil {
		return err
	}
	if len(st.members) == 0 {
		return nil
	}
	inv.Printf("\n")
	t = inv.Table()
	t.Row("ID", "HTTP", "SUFFRAGE", "LEADER", "REACHABLE", "STATE", "APPLIED", "DIGEST", "ERROR")
	for i, m := range st.members {
		p := st.probes[i]
		if p.err != nil {
			t.Row(m.ID, cli.Dash(m.HTTPAddr), m.Suffrage, cli.YesNo(m.Leader), "no", "-", "-", "-", cli.ErrorText(p.err))
			continue
		}
		t.Row(m.ID, m.HTTPAddr, m.Suffrage, cli.YesNo(m.Leader), "yes", cli.Dash(p.self.State),
			p.self.AppliedIndex, cli.Dash(p.self.Digest), "-")
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, w := range st.divergence() {
		inv.Printf("WARNING: %s\n", w)
	}
	return nil
}

func leaderText(s *client.Self) string {
	switch {
	case s.LeaderID == "":
		return "none known"
	case s.LeaderHTTP != "":
		return fmt.Sprintf("%s (%s)", s.LeaderID, s.LeaderHTTP)
	}
	return s.LeaderID
}

func (st *status) readyText() string {
	switch {
	case st.readyErr != nil:
		return "unknown: " + cli.ErrorText(st.readyErr)
	case st.ready:
		return "yes"
	}
	return "no"
}

func (st *status) membersText() string {
	if st.membersErr != nil {
		return "unavailable: " + cli.ErrorText(st.membersErr)
	}
	voters := 0
	for _, m := range st.members {
		if m.Suffrage == "voter" {
			voters++
		}
	}
	return fmt.Sprintf("%d (%d voters, %d non-voters)", len(st.members), voters, len(st.members)-voters)
}

// divergence reports members that answered with the same applied index
// but different digests (DESIGN.md guarantee 6). The index and digest of
// one answer may be read at slightly different moments on the server, so
// it is a warning, not an error.
func (st *status) divergence() []string {
	byIndex := map[uint64]map[string][]string{} // applied index → digest → member IDs
	for i, p := range st.probes {
		if p.err != nil || p.self.Digest == "" {
			continue
		}
		idx, d := p.self.AppliedIndex, p.self.Digest
		if byIndex[idx] == nil {
			byIndex[idx] = map[string][]string{}
		}
		byIndex[idx][d] = append(byIndex[idx][d], st.members[i].ID)
	}
	var out []string
	for _, idx := range slices.Sorted(maps.Keys(byIndex)) {
		digests := byIndex[idx]
		if len(digests) < 2 {
			continue
		}
		var parts []string
		for _, d := range slices.Sorted(maps.Keys(digests)) {
			parts = append(parts, strings.Join(digests[d], ",")+"="+d)
		}
		out = append(out, fmt.Sprintf("digests differ at applied index %d: %s", idx, strings.Join(parts, " ")))
	}
	return out
}

// statusJSON is the -o json form of status.
type statusJSON struct {
	Self         json.RawMessage `json:"self"`
	Ready        bool            `json:"ready"`
	ReadyError   string          `json:"ready_error,omitempty"`
	Members      []memberJSON    `json:"members"`
	MembersError string          `json:"members_error,omitempty"`
	Warnings     []string        `json:"warnings,omitempty"`
}

type memberJSON struct {
	Member    json.RawMessage `json:"member"`
	Reachable bool            `json:"reachable"`
	Self      json.RawMessage `json:"self,omitempty"`
	Error     string          `json:"error,omitempty"`
}

func (st *status) jsonView() statusJSON {
	v := statusJSON{Self: cli.Raw(st.self.Raw, st.self), Ready: st.ready, Members: []memberJSON{}, Warnings: st.divergence()}
	if st.readyErr != nil {
		v.ReadyError = cli.ErrorText(st.readyErr)
	}
	if st.membersErr != nil {
		v.MembersError = cli.ErrorText(st.membersErr)
	}
	for i, m := range st.members {
		mj := memberJSON{Member: cli.Raw(m.Raw, &m)}
		if p := st.probes[i]; p.err != nil {
			mj.Error = cli.ErrorText(p.err)
		} else {
			mj.Reachable, mj.Self = true, cli.Raw(p.self.Raw, p.self)
		}
		v.Members = append(v.Members, mj)
	}
	return v
}
