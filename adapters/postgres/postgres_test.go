package postgres_test

import (
	"context"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/postgres"
	"github.com/uts-aggregator/uts-aggregator/adapters/postgres/pgtest"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// mustOpen opens a repository on dsn and closes it when tb ends.
func mustOpen(tb testing.TB, dsn string) *postgres.Repository {
	tb.Helper()
	r, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func TestRepositoryContract(t *testing.T) {
	dsns := map[app.EventRepository]string{}
	apptest.RunRepositoryContract(t, apptest.Store{
		New: func(tb testing.TB) app.EventRepository {
			dsn := pgtest.NewDatabase(tb)
			r := mustOpen(tb, dsn)
			dsns[r] = dsn
			return r
		},
		Reopen: func(tb testing.TB, old app.EventRepository) app.EventRepository {
			if err := old.(*postgres.Repository).Close(); err != nil {
				tb.Fatal(err)
			}
			return mustOpen(tb, dsns[old])
		},
	})
}

func TestLoaderContract(t *testing.T) {
	apptest.RunLoaderContract(t, func(tb testing.TB) apptest.LoaderStore { return mustOpen(tb, pgtest.NewDatabase(tb)) })
}
