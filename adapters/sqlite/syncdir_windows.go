package sqlite

// syncDir is a no-op on Windows, where directories cannot be opened for
// syncing; NTFS journals the rename itself.
func syncDir(string) error { return nil }
