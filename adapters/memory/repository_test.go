package memory_test

import (
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
	"github.com/uts-aggregator/uts-aggregator/app/apptest"
)

func TestRepositoryContract(t *testing.T) {
	apptest.RunRepositoryContract(t, apptest.Store{
		New: func(testing.TB) app.EventRepository { return memory.New() },
	})
}
