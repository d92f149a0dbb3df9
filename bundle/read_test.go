package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const okManifest = `{"name":"demo","version":"1.0.0","description":"d","entry":"plugin.wasm","runtime":"wasm"}`

type entry struct {
	h    tar.Header
	data string
}

func reg(name, data string) entry {
	return entry{h: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}, data: data}
}

func mkTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.h
		must(t, tw.WriteHeader(&h))
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, err := zw.Write(data)
	must(t, err)
	must(t, zw.Close())
	return buf.Bytes()
}

// TestReadRefuses is the tar-slip / zip-slip / bomb suite: every archive is
// refused with ErrUnsafe (or ErrMalformed), and nothing is written anywhere
// because Read writes nothing at all; Extract only ever sees a Bundle.
func TestReadRefuses(t *testing.T) {
	m := reg(ManifestFile, okManifest)
	small := Limits{MaxEntrySize: 1 << 10, MaxTotalSize: 16 << 10, MaxEntries: 8, MaxRatio: 20}
	bomb := gz(t, mkTar(t, m, reg("plugin.wasm", strings.Repeat("\x00", 12<<10))))
	cases := []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"absolute path", mkTar(t, m, reg("/etc/cron.d/x", "x")), Limits{}, ErrUnsafe},
		{"dot-dot", mkTar(t, m, reg("../../.bashrc", "x")), Limits{}, ErrUnsafe},
		{"dot-dot inside", mkTar(t, m, reg("a/../../b", "x")), Limits{}, ErrUnsafe},
		{"dot element", mkTar(t, m, reg("./plugin.wasm", "x")), Limits{}, ErrUnsafe},
		{"backslash", mkTar(t, m, reg(`..\..\x`, "x")), Limits{}, ErrUnsafe},
		{"drive letter", mkTar(t, m, reg(`C:x`, "x")), Limits{}, ErrUnsafe},
		{"symlink", mkTar(t, m, entry{h: tar.Header{Typeflag: tar.TypeSymlink, Name: "plugin.wasm", Linkname: "/etc/passwd"}}), Limits{}, ErrUnsafe},
		{"hard link", mkTar(t, m, entry{h: tar.Header{Typeflag: tar.TypeLink, Name: "plugin.wasm", Linkname: ManifestFile}}), Limits{}, ErrUnsafe},
		{"char device", mkTar(t, m, entry{h: tar.Header{Typeflag: tar.TypeChar, Name: "tty", Devmajor: 5}}), Limits{}, ErrUnsafe},
		{"block device", mkTar(t, m, entry{h: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Devmajor: 8}}), Limits{}, ErrUnsafe},
		{"fifo", mkTar(t, m, entry{h: tar.Header{Typeflag: tar.TypeFifo, Name: "pipe"}}), Limits{}, ErrUnsafe},
		{"directory", mkTar(t, m, entry{h: tar.Header{Typeflag: tar.TypeDir, Name: "assets/", Mode: 0o755}}), Limits{}, ErrUnsafe},
		{"duplicate", mkTar(t, m, reg("plugin.wasm", "a"), reg("plugin.wasm", "b")), Limits{}, ErrUnsafe},
		{"duplicate manifest", mkTar(t, m, reg(ManifestFile, okManifest)), Limits{}, ErrUnsafe},
		{"case duplicate", mkTar(t, m, reg("Plugin.wasm", "a"), reg("plugin.wasm", "b")), Limits{}, ErrUnsafe},
		{"file and dir", mkTar(t, m, reg("a", "1"), reg("a/b", "2")), Limits{}, ErrUnsafe},
		{"pax xattr", mkTar(t, m, entry{h: tar.Header{Typeflag: tar.TypeReg, Name: "x", Size: 1, PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "x"}}, data: "x"}), Limits{}, ErrUnsafe},
		{"entry over cap", mkTar(t, m, reg("plugin.wasm", strings.Repeat("x", 2<<10))), small, ErrUnsafe},
		{"total over cap", mkTar(t, m, reg("a", strings.Repeat("x", 1000)), reg("b", strings.Repeat("x", 1000)), reg("c", strings.Repeat("x", 1000)), reg("d", strings.Repeat("x", 1000)), reg("e", strings.Repeat("x", 1000)), reg("f", strings.Repeat("x", 1000)), reg("g", strings.Repeat("x", 1000))), Limits{MaxEntrySize: 1 << 10, MaxTotalSize: 4 << 10}, ErrUnsafe},
		{"too many entries", mkTar(t, m, reg("1", ""), reg("2", ""), reg("3", ""), reg("4", ""), reg("5", ""), reg("6", ""), reg("7", ""), reg("8", "")), small, ErrUnsafe},
		{"compression bomb", bomb, Limits{MaxEntrySize: 1 << 20, MaxTotalSize: 1 << 20, MaxRatio: 20}, ErrUnsafe},
		{"file over cap", mkTar(t, m), Limits{MaxFileSize: 100}, ErrUnsafe},
		{"not a tar", []byte("PK\x03\x04 this is a zip"), Limits{}, ErrMalformed},
		{"empty", nil, Limits{}, ErrMalformed},
		{"no manifest", mkTar(t, reg("plugin.wasm", "x")), Limits{}, ErrMalformed},
		{"bad manifest", mkTar(t, reg(ManifestFile, `{"name":1}`)), Limits{}, ErrMalformed},
		{"truncated", mkTar(t, m, reg("plugin.wasm", "0123456789"))[:1030], Limits{}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Read(bytes.NewReader(c.data), c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("Read: %v (bundle %v), want %v", err, b != nil, c.want)
			}
		})
	}
	// The ratio check, not the size cap, is what stops the bomb.
	_, err := Read(bytes.NewReader(bomb), Limits{MaxEntrySize: 1 << 20, MaxTotalSize: 1 << 20, MaxRatio: 20})
	if !strings.Contains(err.Error(), "compression ratio") {
		t.Fatalf("bomb refused for another reason: %v", err)
	}
}

func TestReadAcceptsGzip(t *testing.T) {
	acme := newPublisher(t, "Acme")
	b := packSigned(t, writePlugin(t, acme, "demo", "1.0.0", tinyWasm), acme)
	back, err := Read(bytes.NewReader(gz(t, encode(t, b))), Limits{})
	must(t, err)
	if back.Digest() != b.Digest() || !Verify(ctx, back, VerifyOptions{Keys: trust(acme.key(zeroTime))}).OK() {
		t.Fatal("a gzip-compressed bundle does not verify as the plain one")
	}
}

// TestRefusedWritesNothing runs the slip archives through ReadFile and
// Extract into a fresh directory and checks nothing appeared.
func TestRefusedWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evil"+Extension)
	must(t, os.WriteFile(path, mkTar(t, reg(ManifestFile, okManifest), reg("../escaped", "x")), 0o644))
	dest := filepath.Join(dir, "out")
	b, err := ReadFile(path, Limits{})
	if err == nil {
		_ = Extract(b, dest)
		t.Fatal("read a tar-slip bundle")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files appeared: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escaped")); err == nil {
		t.Fatal("escaped file written")
	}
}

func FuzzRead(f *testing.F) {
	m := reg(ManifestFile, okManifest)
	f.Add(mkTar(f, m, reg("plugin.wasm", "\x00asm\x01\x00\x00\x00")))
	f.Add(mkTar(f, m, reg("../x", "x")))
	f.Add(mkTar(f, m, entry{h: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/"}}))
	f.Add(gz(f, mkTar(f, m, reg("a/b/c.txt", "abc"))))
	f.Add(mkTar(f, m, reg(strings.Repeat("d/", 60)+"long-name.txt", "x")))
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxFileSize: 1 << 20, MaxEntrySize: 64 << 10, MaxTotalSize: 256 << 10, MaxEntries: 64, MaxRatio: 50}
		b, err := Read(bytes.NewReader(data), lim)
		if err != nil {
			if !errors.Is(err, ErrUnsafe) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps neither ErrUnsafe nor ErrMalformed: %v", err)
			}
			return
		}
		// Whatever Read accepts has safe names, re-encodes, and reads back
		// to the same digest.
		for _, n := range b.Names() {
			if err := checkName(n); err != nil {
				t.Fatalf("accepted unsafe name: %v", err)
			}
		}
		var buf bytes.Buffer
		if err := b.Encode(&buf, nil); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Read(&buf, Limits{})
		if err != nil || again.Digest() != b.Digest() {
			t.Fatalf("canonical form does not read back: %v", err)
		}
		_ = Verify(ctx, b, VerifyOptions{})
	})
}
