package sqlite

import (
	"modernc.org/libc"
	"modernc.org/libc/sys/types"
)

// The pure-Go SQLite allocates its C memory from modernc.org/libc, whose
// allocator unmaps a 64 KiB page of small blocks as soon as the last block
// in it is freed. A B-tree page split borrows one such block for its scratch
// space and frees it at once, so every split would map and unmap a page: a
// tenth of the writer's time in bulk ingest. One block of each size class
// that stays allocated for the life of the process keeps one page per class
// mapped, and splits reuse its free blocks.
func init() {
	tls := libc.NewTLS()
	defer tls.Close()
	for class := 4; class <= 14; class++ {
		libc.Xmalloc(tls, types.Size_t(1)<<class)
	}
}
