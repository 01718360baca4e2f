package sqlite

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/uts-aggregator/uts-aggregator/app"
)

// storeFault marks the errors of a full disk, a read-only disk or file, and
// a failing disk with the app's store faults, so that the API can tell them
// from bugs.
func storeFault(err error) error {
	if err == nil || app.IsStoreFault(err) {
		return err
	}
	code := 0
	var se *sqlite.Error
	if errors.As(err, &se) {
		code = se.Code() & 0xff // the primary result code
	}
	switch {
	case code == sqlite3.SQLITE_FULL || errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: %w", app.ErrStoreFull, err)
	case code == sqlite3.SQLITE_READONLY || code == sqlite3.SQLITE_CANTOPEN || errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %w", app.ErrStoreReadOnly, err)
	case code == sqlite3.SQLITE_IOERR:
		return fmt.Errorf("%w: %w", app.ErrStoreUnavailable, err)
	}
	return err
}
