package sqlite

import (
	"runtime"
	"testing"
)

func TestFileURI(t *testing.T) {
	cases := map[string]string{
		"data/aggregator.db":                  "file:data/aggregator.db",
		"/var/lib/agg/aggregator.db":          "file:/var/lib/agg/aggregator.db",
		"/tmp/a dir/with?mark#/aggregator.db": "file:/tmp/a%20dir/with%3Fmark%23/aggregator.db",
	}
	if runtime.GOOS == "windows" {
		cases = map[string]string{
			`data\aggregator.db`:                 "file:data/aggregator.db",
			`C:\Users\me\data\aggregator.db`:     "file:/C:/Users/me/data/aggregator.db",
			`C:\Program Files\agg\aggregator.db`: "file:/C:/Program%20Files/agg/aggregator.db",
		}
	}
	for in, want := range cases {
		if got := fileURI(in); got != want {
			t.Errorf("fileURI(%q) = %q, want %q", in, got, want)
		}
	}
}
