package ndjson_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/adapters/ndjson"
)

// FuzzImport feeds the import reader arbitrary streams; its seed corpus in
// testdata/fuzz/FuzzImport holds real exports and broken ones. Properties:
// never a panic; a refused stream names the line; an accepted one exports
// again to a stream that imports to the same store.
func FuzzImport(f *testing.F) {
	out, _ := export(f, newSource(f))
	f.Add([]byte(out))
	lines := strings.SplitAfter(out, "\n")
	f.Add([]byte(strings.Join(lines[:len(lines)-2], "")))
	f.Add([]byte(lines[0] + `{"kind":"end","events":0,"topics":0}` + "\n"))
	f.Add([]byte(strings.Replace(out, `"seq":2`, `"seq":1`, 1)))
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx := context.Background()
		dst := memory.New()
		sum, err := ndjson.Import(ctx, bytes.NewReader(in), dst)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "import: ") {
				t.Fatalf("error %q does not say where", err)
			}
			return
		}
		var again bytes.Buffer
		sum2, err := ndjson.Export(ctx, dst, &again)
		if err != nil {
			t.Fatalf("export of an imported store: %v", err)
		}
		if sum2.Events != sum.Events || sum2.Topics != sum.Topics || sum2.LastSeq != sum.LastSeq {
			t.Fatalf("imported %+v, exported %+v", sum, sum2)
		}
		second := memory.New()
		if _, err := ndjson.Import(ctx, bytes.NewReader(again.Bytes()), second); err != nil {
			t.Fatalf("re-import of an export: %v\n%s", err, again.String())
		}
		wantSameStore(t, second, dst)
	})
}
