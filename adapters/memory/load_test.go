package memory_test

import (
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
)

func TestLoaderContract(t *testing.T) {
	apptest.RunLoaderContract(t, func(testing.TB) apptest.LoaderStore { return memory.New() })
}
