package cluster

import (
	"context"
	"fmt"
	"reflect"

	"github.com/hashicorp/raft"
)

// bindShutdown makes f.Error() return raft.ErrRaftShutdown once down is
// closed, and returns f.
//
// hashicorp/raft never resolves the future of an entry (Apply, Barrier,
// membership change) that was committed and queued for its FSM goroutine
// when Raft shuts down: that goroutine exits without draining its queue,
// so Error() blocks forever (hashicorp/raft#498, open; PR #504 unmerged).
// Every such future embeds raft's deferError, whose exported ShutdownCh
// field Error() already honours (added in hashicorp/raft#390 for the same
// problem in snapshots). The field is only read by Error(), on the calling
// goroutine, so setting it before the first Error() call is race-free.
// Futures without the field (errorFuture) resolve immediately anyway.
func bindShutdown(f raft.Future, down chan struct{}) raft.Future {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return f
	}
	field := v.Elem().FieldByName("ShutdownCh")
	if field.IsValid() && field.CanSet() && field.Type() == reflect.TypeOf(down) && field.IsNil() {
		field.Set(reflect.ValueOf(down))
	}
	return f
}

// waitFuture waits for f, or for ctx to end. Raft futures have no
// cancellation: when ctx ends first the operation goes on in Raft, and the
// helper goroutine exits when Raft resolves the future or, at the latest,
// when the node's Raft instance shuts down (bindShutdown).
func (n *Node) waitFuture(ctx context.Context, f raft.Future) error {
	bindShutdown(f, n.raftDown)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTimeout, context.Cause(ctx))
	}
}
