package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
	"github.com/uts-aggregator/uts-aggregator/domain"
)

// A write that fails because the disk is full or read-only is reported as
// the app's store fault, so the API can say so; any other failure is not.
// Nothing of the failed write is stored, and writing resumes afterwards.
func TestWriteFaultsAreStoreFaults(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cause error
		want  error
	}{
		{"ErrStoreFull", syscall.ENOSPC, app.ErrStoreFull},
		{"ErrStoreReadOnly", syscall.EROFS, app.ErrStoreReadOnly},
		{"OtherError", errors.New("bug"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.FailExec(func(stmt string) error {
				if stmt == "COMMIT" {
					return fmt.Errorf("write: %w", tt.cause)
				}
				return nil
			})
			_, err = r.Append(ctx, []domain.Event{apptest.NewEvent("t", "lost", 1)}, time.Now())
			if err == nil {
				t.Fatal("Append succeeded with a failing commit")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Append = %v, want %v", err, tt.want)
			}
			if tt.want == nil && app.IsStoreFault(err) {
				t.Fatalf("Append = %v, a store fault for an error that is not one", err)
			}
			r.FailExec(nil)
			if _, err := r.Append(ctx, []domain.Event{apptest.NewEvent("t", "after", 1)}, time.Now()); err != nil {
				t.Fatalf("Append after the fault: %v", err)
			}
			if _, err := r.Get(ctx, domain.Key{Topic: "t", EventID: "lost"}); !errors.Is(err, app.ErrNotFound) {
				t.Fatalf("the failed write was stored (Get = %v)", err)
			}
		})
	}
}
