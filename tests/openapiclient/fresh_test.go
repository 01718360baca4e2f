package openapiclient

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/danielgtaylor/huma/v2/adapters/humago"

	httpadapter "github.com/uts-aggregator/uts-aggregator/adapters/http"
	"github.com/uts-aggregator/uts-aggregator/adapters/memory"
	"github.com/uts-aggregator/uts-aggregator/app"
)

var update = flag.Bool("update", false, "rewrite openapi-3.0.json and client.gen.go")

// startServer serves the real API on a memory store, with the server's
// default limits, as version "dev" (the version in the committed document).
func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	svc := app.New(memory.New(), app.Options{})
	mux := http.NewServeMux()
	httpadapter.Register(humago.New(mux, httpadapter.NewConfig("dev")), svc, httpadapter.Options{})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return srv
}

func TestGeneratedClientIsFresh(t *testing.T) {
	srv := startServer(t)
	resp, err := http.Get(srv.URL + "/openapi-3.0.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi-3.0.json: %v %v", resp.Status, err)
	}

	dir := t.TempDir()
	specFile, out := filepath.Join(dir, "openapi-3.0.json"), filepath.Join(dir, "client.gen.go")
	if err := os.WriteFile(specFile, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", "oapi-codegen.yaml", "-o", out, specFile)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	generated, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	for name, want := range map[string][]byte{"openapi-3.0.json": spec, "client.gen.go": generated} {
		if *update {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: the API changed; regenerate with\n\tgo test ./tests/openapiclient -run TestGeneratedClientIsFresh -update", name)
		}
	}
}
