package szcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/cli"
)

func snapshotSaveCmd() *cli.Command {
	return &cli.Command{
		Name:  "save",
		Args:  "FILE",
		Short: "Save a snapshot of the cluster state to FILE",
		Long: `The snapshot is streamed into a temporary file next to FILE, synced to disk
and renamed over FILE, so FILE is either the complete new snapshot or left
as it was.`,
		MinArgs: 1, MaxArgs: 1,
		SetupFunc: func(*pflag.FlagSet) cli.RunFunc {
			return func(ctx context.Context, inv *cli.Invocation) error {
				c, err := inv.Client()
				if err != nil {
					return err
				}
				path := inv.Args[0]
				n, err := saveSnapshot(ctx, c, path)
				if err != nil {
					return err
				}
				if !inv.JSON() {
					inv.Printf("saved snapshot to %s (%d bytes)\n", path, n)
				}
				return nil
			}
		},
	}
}

// saveSnapshot writes the snapshot atomically: temp file in the same
// directory, fsync, rename, fsync of the directory.
func saveSnapshot(ctx context.Context, c *client.Client, path string) (n int64, err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if n, err = c.SnapshotSave(ctx, tmp); err != nil {
		return n, err
	}
	if err = tmp.Sync(); err != nil {
		return n, fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return n, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return n, err
	}
	return n, syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrInvalid) {
		return nil // file systems or platforms that cannot sync a directory
	}
	return err
}
