// Package architecture checks that imports point inward:
// domain <- app <- adapters <- cmd, with no adapter importing another, and
// that the helpers under internal/ stay outside the service's layers.
package architecture

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/uts-aggregator/uts-aggregator"

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Standard     bool
}

// listPackages asks the go tool for every package of the module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// layer names the part of the module a package belongs to.
func layer(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	parts := strings.Split(rel, "/")
	switch parts[0] {
	case "adapters":
		if len(parts) > 1 && parts[1] != "internal" {
			return "adapters/" + parts[1]
		}
		return "adapters/internal"
	case "tests", "internal":
		if len(parts) > 1 {
			return parts[0] + "/" + parts[1]
		}
	}
	return parts[0]
}

// allowed reports whether a package in layer from may import module package to.
func allowed(from, to string) bool {
	target := layer(to)
	switch {
	case from == "domain":
		return target == "domain"
	case from == "app":
		return target == "domain" || target == "app"
	case from == "adapters/internal":
		return target == "domain" || target == "app" || target == "adapters/internal"
	case strings.HasPrefix(from, "adapters/"):
		return target == "domain" || target == "app" || target == "adapters/internal" || target == from
	case from == "tests/e2e":
		return false // it drives the container over HTTP only
	case from == "client":
		return false // publishers import it: it knows only the wire format
	case strings.HasPrefix(from, "internal/"):
		// Helpers of the binaries (the load generator, serving HTTP): they
		// may use the domain's vocabulary, the client and each other, not
		// the service.
		return target == "domain" || target == "client" || strings.HasPrefix(target, "internal/")
	}
	return true // cmd and the other test suites wire everything together
}

func TestImportsPointInward(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 6 {
		t.Fatalf("found only %d packages; is the module path right?", len(pkgs))
	}
	for _, p := range pkgs {
		from := layer(p.ImportPath)
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) && !allowed(from, imp) {
				t.Errorf("%s imports %s: %s may not depend on %s", p.ImportPath, imp, from, layer(imp))
			}
		}
		// Tests may also use the in-memory store as their test double; the
		// client's tests run it behind the real HTTP API.
		if from == "client" {
			continue
		}
		for _, imp := range append(append([]string{}, p.TestImports...), p.XTestImports...) {
			if strings.HasPrefix(imp, module) && !allowed(from, imp) && !(from != "tests/e2e" && layer(imp) == "adapters/memory") {
				t.Errorf("test of %s imports %s: %s may not depend on %s", p.ImportPath, imp, from, layer(imp))
			}
		}
	}
}

// domain is pure; client is imported by publishers, who should not inherit
// the server's dependencies.
func TestDomainAndClientUseOnlyTheStandardLibrary(t *testing.T) {
	for _, p := range []string{"domain", "client"} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"/"+p)
		cmd.Dir = "../.."
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep != module+"/"+p {
				t.Errorf("%s depends on %s; it may use only the standard library", p, dep)
			}
		}
	}
}

// The domain and the use cases know no wire format: none of their structs
// carries encoding tags (json, bun, ...). Formats live in adapters.
func TestDomainAndAppHaveNoWireFormat(t *testing.T) {
	for _, dir := range []string{"domain", "app"} {
		files, err := filepath.Glob(filepath.Join("../..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if field, ok := n.(*ast.Field); ok && field.Tag != nil {
					t.Errorf("%s: field tagged %s; encodings belong in an adapter", name, field.Tag.Value)
				}
				return true
			})
		}
	}
}

func TestRulesCatchViolations(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"domain", module + "/app"},
		{"app", module + "/adapters/sqlite"},
		{"adapters/sqlite", module + "/adapters/memory"},
		{"adapters/http", module + "/cmd/aggregator"},
		{"tests/e2e", module + "/domain"},
		{"client", module + "/domain"},
		{"internal/loadgen", module + "/app"},
		{"internal/loadgen", module + "/adapters/http"},
		{"internal/httpserve", module + "/cmd/aggregator"},
	} {
		if allowed(c.from, c.to) {
			t.Errorf("%s importing %s should be refused", c.from, c.to)
		}
	}
}

// The server binary is the product: the load generator is a binary of its
// own (cmd/loadgen) and must not be linked into it.
func TestServerDoesNotLinkTheLoadGenerator(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/cmd/aggregator")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == module+"/internal/loadgen" {
			t.Errorf("cmd/aggregator depends on %s", dep)
		}
	}
}
