package governor

import "time"

// backoff is the restart bookkeeping of one process under a RestartPolicy.
// It is pure: the caller passes the clock readings.
type backoff struct {
	policy  RestartPolicy
	current time.Duration // last delay used; 0 before the first crash
	crashes []time.Time   // crash restarts inside the policy window
}

// next returns the delay before restarting a process that exited at now
// after running for ranFor, and false when the process crashed too often
// and must be marked failed. A faulted exit (Kill, Term) waits the initial
// delay and is not counted.
func (b *backoff) next(now time.Time, ranFor time.Duration, faulted bool) (time.Duration, bool) {
	if faulted {
		return b.policy.Initial, true
	}
	if ranFor >= b.policy.ResetAfter {
		b.current = 0
	}
	kept := b.crashes[:0]
	for _, t := range b.crashes {
		if now.Sub(t) < b.policy.Window {
			kept = append(kept, t)
		}
	}
	b.crashes = kept
	if len(b.crashes) >= b.policy.MaxRestarts {
		return 0, false
	}
	b.crashes = append(b.crashes, now)
	if b.current == 0 {
		b.current = b.policy.Initial
	} else {
		b.current = min(2*b.current, b.policy.Max)
	}
	return b.current, true
}

// reset forgets every crash (Restart revives a failed process this way).
func (b *backoff) reset() {
	b.current = 0
	b.crashes = nil
}
