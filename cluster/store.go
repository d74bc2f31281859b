package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// nodeIDFile is the file in DataDir that pins the node's Raft server ID.
const nodeIDFile = "node-id"

// prepareDataDir creates <dataDir>/raft, checks or writes <dataDir>/node-id
// and returns the raft directory.
func prepareDataDir(dataDir, nodeID string) (string, error) {
	dir := filepath.Join(dataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cluster: create data dir: %w", err)
	}
	path := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if stored := string(bytes.TrimSpace(b)); stored != nodeID {
			return "", fmt.Errorf("%w: NodeID: data dir %s belongs to node %q, not %q; use --node-id %s or an empty data dir",
				ErrInvalidConfig, dataDir, stored, nodeID, stored)
		}
		return dir, nil
	case errors.Is(err, fs.ErrNotExist):
		return dir, writeFileSync(path, []byte(nodeID+"\n"))
	default:
		return "", fmt.Errorf("cluster: read %s: %w", path, err)
	}
}

// writeFileSync writes data to path atomically (temp file, fsync, rename,
// fsync of the directory).
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cluster: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cluster: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cluster: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cluster: close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cluster: rename %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("cluster: open data dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cluster: sync data dir: %w", err)
	}
	return nil
}

// openStores opens raft.db (log and stable store) with fsync on and the
// freelist kept out of the file (raft.md §4), behind a 512-entry log cache.
func (n *Node) openStores(dir string) error {
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
			Timeout:        boltOpenTimeout,
		},
		NoSync: false,
	})
	if err != nil {
		return fmt.Errorf("cluster: open raft.db: %w", err)
	}
	n.bolt = bolt
	n.logs, err = raft.NewLogCache(logCacheSize, bolt)
	if err != nil {
		return fmt.Errorf("cluster: log cache: %w", err)
	}
	return nil
}

// closeStores closes the transport (if Raft has not) and raft.db.
func (n *Node) closeStores() {
	if n.trans != nil {
		_ = n.trans.Close()
	}
	if n.bolt != nil {
		if err := n.bolt.Close(); err != nil {
			n.log.Warn("closing raft.db failed", slog.Any(logKeyErr, err))
		}
		n.bolt = nil
	}
}
