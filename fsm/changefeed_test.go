package fsm_test

import (
	"bytes"
	"testing"

	"github.com/schedulezero/schedulezero/fsm"
)

func TestFSM_ChangesSince(t *testing.T) {
	t.Run("records schedule and run changes in order", func(t *testing.T) {
		f := fsm.New()
		cur := f.ChangeCursor()
		applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: at(0), Schedule: sched("a")})
		applyOne(t, f, 2, fsm.Event{Type: fsm.RunFired, At: at(1), Run: run("a", at(1), fsm.TriggerScheduled)})
		applyOne(t, f, 3, fsm.Event{Type: fsm.ScheduleDeleted, At: at(2), ID: "a"})
		select {
		case <-f.ChangeNotify():
		default:
			t.Fatal("no notification after Apply")
		}
		got, next, ok := f.ChangesSince(cur, nil, 0)
		if !ok {
			t.Fatal("cursor from before the changes is not covered")
		}
		var kinds []fsm.ChangeKind
		for _, c := range got {
			kinds = append(kinds, c.Kind)
		}
		// create, fired (run + HWM on the schedule), delete (schedule + its run)
		want := []fsm.ChangeKind{fsm.ChangeSchedule, fsm.ChangeSchedule, fsm.ChangeRun, fsm.ChangeSchedule, fsm.ChangeRun}
		if len(kinds) != len(want) {
			t.Fatalf("changes = %+v, want kinds %v", got, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("changes = %+v, want kinds %v", got, want)
			}
		}
		if more, _, ok := f.ChangesSince(next, nil, 0); !ok || len(more) != 0 {
			t.Fatalf("after the last cursor: %v %v", more, ok)
		}
	})
	t.Run("max bounds one read", func(t *testing.T) {
		f := fsm.New()
		for i, id := range []string{"a", "b", "c"} {
			applyOne(t, f, uint64(i+1), fsm.Event{Type: fsm.ScheduleCreated, At: at(0), Schedule: sched(id)})
		}
		got, next, ok := f.ChangesSince(0, nil, 2)
		if !ok || len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
			t.Fatalf("first page = %+v %v", got, ok)
		}
		got, _, ok = f.ChangesSince(next, nil, 2)
		if !ok || len(got) != 1 || got[0].ID != "c" {
			t.Fatalf("second page = %+v %v", got, ok)
		}
	})
	t.Run("restore invalidates cursors", func(t *testing.T) {
		f := fsm.New()
		applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: at(0), Schedule: sched("a")})
		cur := f.ChangeCursor()
		var buf bytes.Buffer
		if _, err := f.Snapshot().WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if err := f.Restore(&buf); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := f.ChangesSince(cur, nil, 0); ok {
			t.Fatal("a cursor from before Restore is still reported as covered")
		}
		if _, _, ok := f.ChangesSince(f.ChangeCursor(), nil, 0); !ok {
			t.Fatal("the cursor taken after Restore is not covered")
		}
	})
	t.Run("a reader that falls behind the ring must rescan", func(t *testing.T) {
		f := fsm.New()
		ev := fsm.Event{Type: fsm.ScheduleCreated, At: at(0), Schedule: sched("a")}
		applyOne(t, f, 1, ev)
		for i := 0; i < 1<<16; i++ {
			applyOne(t, f, uint64(i+2), fsm.Event{Type: fsm.SchedulePaused, At: at(1), ID: "a"})
			applyOne(t, f, uint64(i+2), fsm.Event{Type: fsm.ScheduleResumed, At: at(1), ID: "a"})
		}
		if _, _, ok := f.ChangesSince(0, nil, 0); ok {
			t.Fatal("cursor 0 is still covered after 128k changes")
		}
	})
}
