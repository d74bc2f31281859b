package governor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// File names inside the governor directory.
const (
	StateFile = "state.json"
	LockFile  = "governor.lock"
)

// stateFile is the content of state.json: the Status plus what another
// shell needs to reach and verify the governor. It is written with mode
// 0600 because the token authorises the control API.
type stateFile struct {
	Version         int      `json:"version"`
	Token           string   `json:"token"`
	GovernorCmdline []string `json:"governor_cmdline"`
	Status
}

const stateVersion = 1

// writeStateFile replaces dir/state.json atomically: temp file, fsync,
// rename, fsync of the directory. Readers see the old or the new file.
func writeStateFile(dir string, sf stateFile) error {
	sf.Version = stateVersion
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, StateFile+".tmp*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(append(b, '\n'))
	err = errors.Join(err, tmp.Sync(), tmp.Close())
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, StateFile)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readStateFile(dir string) (stateFile, error) {
	var sf stateFile
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return sf, err
	}
	if err := json.Unmarshal(b, &sf); err != nil {
		return sf, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	if sf.Version != stateVersion {
		return sf, fmt.Errorf("%s: unsupported version %d", filepath.Join(dir, StateFile), sf.Version)
	}
	return sf, nil
}

// ReadState returns the status recorded in dir/state.json, as the
// governor last wrote it (it may be stale if the governor died).
func ReadState(dir string) (Status, error) {
	sf, err := readStateFile(dir)
	return sf.Status, err
}

// lockDir takes the exclusive, non-blocking flock on dir/governor.lock and
// writes the holder's PID into it. The descriptor is close-on-exec, so
// children never inherit the lock.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(f.Name())
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (held by pid %s)", ErrLocked, dir, string(holder))
		}
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprint(os.Getpid())), 0)
	}
	return f, nil
}

// unlockDir releases the lock taken by lockDir.
func unlockDir(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close() // closing the descriptor releases the flock
}
