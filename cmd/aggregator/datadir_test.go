package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uts-aggregator/uts-aggregator/adapters/sqlite"
)

// The trap: a run as another user (root, in the quick start) left a
// database file behind that this process may not write. The server must not
// start, and must say which path, which uid and which command fixes it.
func TestStartupRefusesADataDirItCannotWrite(t *testing.T) {
	root, err := os.MkdirTemp("", "datadir-check-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	bin := filepath.Join(root, "aggregator")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(root, "data")
	for _, name := range []string{"", sqlite.FileName} {
		p := filepath.Join(data, name)
		if name == "" {
			err = os.Mkdir(p, 0o777)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o777) // writable directory, as after `chown` of the folder alone

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-data-dir", data)
	uid := os.Getuid()
	if uid == 0 {
		// Root may write anything: run as the image's user instead, which
		// does not own the file root just created.
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("running as root without setpriv: cannot run as another user")
		}
		cmd = exec.Command(setpriv, "--reuid=65532", "--regid=65532", "--clear-groups", bin, "-addr", "127.0.0.1:0", "-data-dir", data)
		uid = 65532
	} else if err := os.Chmod(filepath.Join(data, sqlite.FileName), 0o444); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("exit %d (%v), want 1; output:\n%s", code, err, out)
	}
	last := strings.TrimSpace(string(out))
	last = last[strings.LastIndex(last, "\n")+1:]
	for _, want := range []string{filepath.Join(data, sqlite.FileName), "uid " + itoa(uid), "chown -R " + itoa(uid) + ":"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line lacks %q:\n%s", want, last)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
