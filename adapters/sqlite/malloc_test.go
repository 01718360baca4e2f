package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// The page caches must draw from the pool that init configured, not from
// the allocator that B-tree splits borrow from (malloc.go).
func TestPageCachesUseTheirPool(t *testing.T) {
	r, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	events := make([]domain.Event, 2000)
	for i := range events {
		events[i] = apptest.NewEvent("t", fmt.Sprint("e", i), i)
	}
	if _, err := r.Append(context.Background(), events, time.Now()); err != nil {
		t.Fatal(err)
	}
	if used := pageCachePoolUsed(t); used < 10 {
		t.Fatalf("%d page cache pages come from the pool after a write of 2000 events, want the cache's pages there", used)
	}
}

// pageCachePoolUsed is sqlite3_status(SQLITE_STATUS_PAGECACHE_USED): the
// pool's slots in use.
func pageCachePoolUsed(t *testing.T) int32 {
	tls := libc.NewTLS()
	defer tls.Close()
	// SQLite writes the values through pointers: C memory (see malloc.go).
	out := libc.Xmalloc(tls, 16)
	defer libc.Xfree(tls, out)
	rc := sqlite3.Xsqlite3_status(tls, sqlite3.SQLITE_STATUS_PAGECACHE_USED, out, out+8, 0)
	if rc != sqlite3.SQLITE_OK {
		t.Fatalf("sqlite3_status: %d", rc)
	}
	return libc.AtomicLoadPInt32(out)
}
