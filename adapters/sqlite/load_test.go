package sqlite_test

import (
	"testing"

	"github.com/uts-aggregator/uts-aggregator/app/apptest"
)

func TestLoaderContract(t *testing.T) {
	apptest.RunLoaderContract(t, func(tb testing.TB) apptest.LoaderStore { return mustOpen(tb, tb.TempDir()) })
}
