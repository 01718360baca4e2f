package sqlite

import (
	"fmt"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// The pure-Go SQLite allocates its C memory from modernc.org/libc, whose
// allocator unmaps a 64 KiB page of blocks of one size as soon as the last
// block in it is freed. A B-tree page split borrows a block for its scratch
// space and frees it at once, so whenever no block of its size is free,
// every split maps and unmaps a page: about a fifth of the writer's time.
// Two things keep blocks free:
//   - one block of each size class stays allocated for the life of the
//     process, keeping one page per class mapped;
//   - the page caches take their pages from a pool of their own
//     (SQLITE_CONFIG_PAGECACHE) rather than from the blocks that splits
//     borrow, which they would otherwise use up as they fill.
func init() {
	tls := libc.NewTLS()
	defer tls.Close()
	for class := 4; class <= 14; class++ {
		libc.Xmalloc(tls, types.Size_t(1)<<class)
	}
	// SQLite writes the header size through a pointer: C memory, which
	// Go's pointer checks (-race) let it write.
	hdr := libc.Xmalloc(tls, 8)
	defer libc.Xfree(tls, hdr)
	va := libc.NewVaList(hdr)
	rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, va)
	libc.Xfree(tls, va)
	if rc != sqlite3.SQLITE_OK {
		panic(fmt.Sprintf("sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ): %d", rc))
	}
	slot := (pageCachePageSize + int(libc.AtomicLoadPInt32(hdr)) + 7) &^ 7
	n := pageCachePoolBytes / pageCachePageSize
	pool := libc.Xmalloc(tls, types.Size_t(slot*n))
	va = libc.NewVaList(pool, int32(slot), int32(n))
	rc = sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, va)
	libc.Xfree(tls, va)
	if rc != sqlite3.SQLITE_OK {
		panic(fmt.Sprintf("sqlite3_config(SQLITE_CONFIG_PAGECACHE): %d", rc))
	}
}

const (
	// pageCachePageSize is SQLite's page size for new databases; a
	// database with larger pages takes its cache pages from the allocator.
	pageCachePageSize = 4096
	// pageCachePoolBytes is the page cache memory of the default Options:
	// the writer's 16 MiB and three readers' 4 MiB each.
	pageCachePoolBytes = 28 << 20
)
