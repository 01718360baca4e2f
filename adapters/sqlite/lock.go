//go:build unix || windows

package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir takes an exclusive lock on the data directory's lock file, so
// that a second process cannot open the same store: the writer keeps the
// next seq and the dedup index in memory and must be the only one. The
// lock goes with the process, however it ends.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	held, err := tryLock(f)
	if err == nil {
		return f, nil
	}
	f.Close()
	if held {
		return nil, fmt.Errorf("%w: data directory %s (another aggregator serves it, or an export or import runs on it); "+
			"stop that process or use another data directory", ErrLocked, dir)
	}
	return nil, fmt.Errorf("lock %s: %w", path, err)
}
