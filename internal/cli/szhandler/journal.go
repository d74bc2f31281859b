package szhandler

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/handlerclient"
)

// journalLine is one execution in the journal. The field set is part of
// szhandler's contract (DESIGN.md): the Jepsen-style checkers read it.
type journalLine struct {
	RunID      string     `json:"run_id"`
	ScheduleID string     `json:"schedule_id"`
	NominalAt  *time.Time `json:"nominal_at"` // null when the dispatch had none
	Attempt    int        `json:"attempt"`
	Instance   string     `json:"instance"`
	ReceivedAt time.Time  `json:"received_at"`
}

// journal appends one fsynced line per execution, before it runs.
type journal struct {
	instance string
	mu       sync.Mutex
	f        *os.File
}

// openJournal opens (creating) path for appending.
func openJournal(path, instance string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{instance: instance, f: f}, nil
}

// Record writes job's line with a single write and fsyncs it; the job runs
// only if it returns nil (handlerclient.Config.BeforeRunFunc).
func (j *journal) Record(job *handlerclient.Job) error {
	line := journalLine{RunID: job.RunID, ScheduleID: job.ScheduleID, Attempt: job.Attempt,
		Instance: j.instance, ReceivedAt: job.ReceivedAt.UTC()}
	if !job.NominalAt.IsZero() {
		n := job.NominalAt.UTC()
		line.NominalAt = &n
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync: %w", err)
	}
	return nil
}

// Close closes the file.
func (j *journal) Close() error { return j.f.Close() }
