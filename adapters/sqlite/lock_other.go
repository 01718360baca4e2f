//go:build !unix && !windows

package sqlite

import "os"

// lockDir does not lock on this platform: SQLite's own locks are all that
// keep a second process away.
func lockDir(string) (*os.File, error) { return nil, nil }
