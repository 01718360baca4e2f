package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckDir finds at startup what SQLite would otherwise report on the
// first publish as "attempt to write a readonly database": a data directory,
// or a database, WAL or shared-memory file in it, that this process may not
// write (typically files a root-owned run left behind). The error is one
// line naming the path, the user and the command that fixes it. Open does
// not call it, so that a read-only export can still open the store.
func CheckDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return notWritable(dir, dir, err)
	}
	// SQLite creates the -wal and -shm files next to the database.
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return notWritable(dir, dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm", LockFileName} {
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return notWritable(dir, path, err)
		}
		f.Close()
	}
	return nil
}

func notWritable(dir, path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if uid < 0 { // Windows has no uids
		return fmt.Errorf("data directory %s: %s is not writable by this user: %w", dir, path, err)
	}
	return fmt.Errorf("data directory %s: %s is not writable by uid %d (gid %d); give the directory and every file in it to that user, e.g. `chown -R %d:%d %s` (for a Docker bind mount, run it on the host folder)",
		dir, path, uid, gid, uid, gid, dir)
}
