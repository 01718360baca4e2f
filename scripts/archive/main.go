// Command archive writes the release archives byte for byte reproducibly:
// entries in the given order, one fixed modification time, fixed modes and
// owners, no host names or user names. scripts/release.sh runs it.
//
//	archive -o FILE.tar.gz|FILE.zip -mtime UNIX -prefix DIR/ NAME=PATH...
//	archive -sums DIR          write DIR/SHA256SUMS for the archives in DIR
//
// A NAME ending in .exe or naming the program (no extension, executable on
// disk) is stored as executable (0755), anything else 0644.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("archive", flag.ContinueOnError)
	out := fs.String("o", "", "archive to write: .tar.gz or .zip")
	mtime := fs.Int64("mtime", 0, "modification time of every entry, Unix seconds (the commit's time)")
	prefix := fs.String("prefix", "", "directory the entries are placed in, e.g. name_1.0_linux_amd64/")
	sums := fs.String("sums", "", "write SHA256SUMS for the archives in this directory instead")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sums != "" {
		return writeSums(*sums)
	}
	if *out == "" || fs.NArg() == 0 {
		return errors.New("usage: archive -o FILE -mtime UNIX [-prefix DIR/] NAME=PATH...")
	}
	var files []file
	for _, a := range fs.Args() {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=PATH", a)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if st.Mode()&0o111 != 0 || strings.HasSuffix(name, ".exe") {
			mode = 0o755
		}
		files = append(files, file{name: *prefix + name, mode: mode, data: data})
	}
	var buf bytes.Buffer
	var err error
	mt := time.Unix(*mtime, 0).UTC()
	switch {
	case strings.HasSuffix(*out, ".tar.gz"):
		err = writeTarGz(&buf, files, mt)
	case strings.HasSuffix(*out, ".zip"):
		err = writeZip(&buf, files, mt)
	default:
		err = fmt.Errorf("%s: want .tar.gz or .zip", *out)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

type file struct {
	name string
	mode int64
	data []byte
}

func writeTarGz(w io.Writer, files []file, mtime time.Time) error {
	// No name, no time, and the writer's fixed OS byte: the same input
	// gives the same bytes.
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, dir := range dirs(files) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, files []file, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for _, dir := range dirs(files) {
		h := &zip.FileHeader{Name: dir, Method: zip.Store, Modified: mtime}
		h.SetMode(os.ModeDir | 0o755)
		if _, err := zw.CreateHeader(h); err != nil {
			return err
		}
	}
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(os.FileMode(f.mode))
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// dirs lists the directories the files are in, parents first.
func dirs(files []file) []string {
	var ds []string
	for _, f := range files {
		for d := filepath.ToSlash(filepath.Dir(f.name)); d != "." && d != "/"; d = filepath.ToSlash(filepath.Dir(d)) {
			if !slices.Contains(ds, d+"/") {
				ds = append(ds, d+"/")
			}
		}
	}
	slices.Sort(ds)
	return ds
}

// writeSums writes dir/SHA256SUMS in sha256sum's format, sorted by name.
func writeSums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
