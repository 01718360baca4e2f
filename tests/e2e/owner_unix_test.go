//go:build !windows

package e2e_test

import (
	"os"
	"syscall"
)

// fileOwner is the uid owning fi.
func fileOwner(fi os.FileInfo) (uid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
