package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture writes a program and a text file, with the given permissions on
// disk, and returns the NAME=PATH arguments.
func fixture(t *testing.T, dir string, textMode os.FileMode) []string {
	t.Helper()
	prog, text := filepath.Join(dir, "prog"), filepath.Join(dir, "README.md")
	if err := os.WriteFile(prog, []byte("\x7fELF program"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(text, []byte(strings.Repeat("read me\n", 100)), textMode); err != nil {
		t.Fatal(err)
	}
	return []string{"aggregator=" + prog, "README.md=" + text}
}

// The same files give the same bytes, whatever their times and the
// umask they were written with.
func TestArchivesAreReproducible(t *testing.T) {
	for _, ext := range []string{".tar.gz", ".zip"} {
		var outs [][]byte
		for i, mode := range []os.FileMode{0o644, 0o664} {
			dir := t.TempDir()
			files := fixture(t, dir, mode)
			os.Chtimes(filepath.Join(dir, "prog"), time.Now(), time.Now().Add(time.Duration(i)*time.Hour))
			out := filepath.Join(dir, "a"+ext)
			if err := run(append([]string{"-o", out, "-mtime", "1735830245", "-prefix", "pkg_1.0/"}, files...)); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, b)
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s: two runs differ", ext)
		}
	}
}

type entry struct {
	mode  os.FileMode
	mtime time.Time
	data  string
}

func TestArchiveContents(t *testing.T) {
	mtime := time.Unix(1735830245, 0).UTC()
	for _, ext := range []string{".tar.gz", ".zip"} {
		dir := t.TempDir()
		out := filepath.Join(dir, "a"+ext)
		if err := run(append([]string{"-o", out, "-mtime", "1735830245", "-prefix", "pkg_1.0/"}, fixture(t, dir, 0o600)...)); err != nil {
			t.Fatal(err)
		}
		got := read(t, out)
		want := map[string]os.FileMode{"pkg_1.0/": os.ModeDir | 0o755, "pkg_1.0/aggregator": 0o755, "pkg_1.0/README.md": 0o644}
		if len(got) != len(want) {
			t.Errorf("%s: entries %v", ext, got)
		}
		for name, mode := range want {
			e, ok := got[name]
			if !ok || e.mode != mode || !e.mtime.Equal(mtime) {
				t.Errorf("%s: %s is %+v, want mode %v, time %v", ext, name, e, mode, mtime)
			}
		}
		if got["pkg_1.0/aggregator"].data != "\x7fELF program" {
			t.Errorf("%s: program content %q", ext, got["pkg_1.0/aggregator"].data)
		}
	}
}

func read(t *testing.T, path string) map[string]entry {
	t.Helper()
	got := map[string]entry{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			got[f.Name] = entry{f.Mode() & (os.ModeDir | os.ModePerm), f.Modified.UTC(), string(b)}
		}
		return got
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = entry{h.FileInfo().Mode() & (os.ModeDir | os.ModePerm), h.ModTime.UTC(), string(b)}
	}
	return got
}

func TestSums(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.zip"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.tar.gz"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	if err := run([]string{"-sums", dir}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	want := "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  a.tar.gz\n" +
		"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.zip\n"
	if string(got) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", got, want)
	}
}
