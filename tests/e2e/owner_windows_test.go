package e2e_test

import "os"

// fileOwner: Windows files have no uid.
func fileOwner(os.FileInfo) (uid uint32, ok bool) { return 0, false }
