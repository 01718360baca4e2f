package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// testEnv is a process environment with the given variables and no input.
func testEnv(vars map[string]string) env {
	return env{func(k string) string { return vars[k] }, strings.NewReader(""), io.Discard, io.Discard}
}

// runCLI runs the binary's entry point and returns its exit code and output.
func runCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := testEnv(vars)
	e.stdout, e.stderr = &out, &errOut
	code = run(context.Background(), args, e)
	return code, out.String(), errOut.String()
}

func TestHelpListsSubcommands(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, _ := runCLI(t, nil, args...)
		if code != 0 {
			t.Errorf("%v exited %d, want 0", args, code)
		}
		for _, c := range commands {
			if !regexp.MustCompile(`(?m)^  ` + c.name + ` +\S`).MatchString(out) {
				t.Errorf("%v does not list %s with a summary:\n%s", args, c.name, out)
			}
		}
	}
}

func TestSubcommandHelpListsOnlyItsFlags(t *testing.T) {
	cases := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"serve", "-h"}, []string{"-addr", "-max-batch", "-store", "AGGREGATOR_MAX_BATCH"}, nil},
		{[]string{"help", "export"}, []string{"-data-dir"}, []string{"-max-batch"}},
		{[]string{"export", "-h"}, []string{"-store", "-data-dir", "-postgres-dsn"}, []string{"-addr", "-max-batch", "-log-level"}},
		{[]string{"import", "-h"}, []string{"-store", "-data-dir"}, []string{"-addr", "-max-batch"}},
		{[]string{"healthcheck", "-h"}, []string{"-addr", "-timeout"}, []string{"-store", "-max-batch"}},
		{[]string{"version", "-h"}, []string{"Usage: aggregator version"}, []string{"-addr"}},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, nil, c.args...)
		if code != 0 {
			t.Errorf("%v exited %d, want 0; stderr:\n%s", c.args, code, errOut)
		}
		text := out + errOut
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%v lacks %q:\n%s", c.args, w, text)
			}
		}
		for _, n := range c.not {
			if strings.Contains(text, n+" ") {
				t.Errorf("%v lists %q, a flag of another command:\n%s", c.args, n, text)
			}
		}
	}
}

func TestCommandLineMistakesExit2(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"serve", "version"},          // a stray word must not start a server
		{"-store", "memory", "extra"}, // nor a stray argument after flags
		{"export", "-addr", ":1"},     // a server flag on export
		{"version", "now"},
		{"healthcheck", "a:1", "b:2"},
		{"help", "frobnicate"},
	} {
		code, _, errOut := runCLI(t, nil, args...)
		if code != 2 {
			t.Errorf("%v exited %d, want 2; stderr:\n%s", args, code, errOut)
		}
		if errOut == "" {
			t.Errorf("%v printed nothing to stderr", args)
		}
	}
}

func TestVersionPrintsVersionCommitAndGo(t *testing.T) {
	old := version
	version, commit = "1.2.3", "abc123"
	t.Cleanup(func() { version, commit = old, "" })
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 {
		t.Fatalf("version exited %d", code)
	}
	for _, want := range []string{"aggregator 1.2.3", "commit abc123", runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

// A configuration error is reported on stderr and exits 1 without serving.
func TestBadConfigurationExits1(t *testing.T) {
	code, _, errOut := runCLI(t, map[string]string{"AGGREGATOR_MAX_BATCH": "10k", "AGGREGATOR_STORE": "memory"}, "-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, `AGGREGATOR_MAX_BATCH="10k"`) {
		t.Fatalf("exit %d, stderr %q; want 1 naming AGGREGATOR_MAX_BATCH", code, errOut)
	}
}
