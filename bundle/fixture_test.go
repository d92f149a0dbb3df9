package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keyid"
)

// tinyWasm is the smallest valid WebAssembly module: magic and version.
var tinyWasm = []byte("\x00asm\x01\x00\x00\x00")

// fakeGoWasm is a wasm module carrying Go module information the way the Go
// linker embeds it, with one dependency, so that SBOM tests need no toolchain.
func fakeGoWasm() []byte {
	var b bytes.Buffer
	b.Write(tinyWasm)
	b.WriteString("\x00\x01padding go1.26.8 more")
	b.Write(modInfoStart)
	b.WriteString("path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n" +
		"dep\tgolang.org/x/text\tv0.3.8\th1:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=\n" +
		"build\t-buildmode=c-shared\nbuild\t-trimpath=true\nbuild\tCGO_ENABLED=0\nbuild\tGOARCH=wasm\nbuild\tGOOS=wasip1\n" +
		"build\tvcs=git\nbuild\tvcs.revision=0123456789abcdef0123456789abcdef01234567\nbuild\tvcs.modified=false\n")
	b.Write(modInfoEnd)
	return b.Bytes()
}

type publisher struct {
	name string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	id   string
}

func newPublisher(t testing.TB, name string) publisher {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return publisher{name: name, priv: priv, pub: pub, id: keyid.Of(pub)}
}

// trusted returns a Keys that trusts p (and more).
func (p publisher) key(expires time.Time) Key {
	return Key{ID: p.id, Publisher: p.name, Public: p.pub, Expires: expires}
}

type keyMap map[string]Key

func (k keyMap) Key(id string) (Key, bool) { v, ok := k[id]; return v, ok }

func trust(keys ...Key) keyMap {
	m := keyMap{}
	for _, k := range keys {
		m[k.ID] = k
	}
	return m
}

type revList struct {
	keys, bundles map[string]bool
	versions      map[string]bool // "name@version"
}

func (r revList) RevokedKey(id string) (string, bool)       { return "test", r.keys[id] }
func (r revList) RevokedBundle(d string) (string, bool)     { return "test", r.bundles[d] }
func (r revList) RevokedVersion(n, v string) (string, bool) { return "test", r.versions[n+"@"+v] }

// writePlugin writes a plugin directory for publisher p and returns it.
func writePlugin(t testing.TB, p publisher, name, version string, entry []byte) string {
	t.Helper()
	dir := t.TempDir()
	m := map[string]any{
		"name":        name,
		"version":     version,
		"description": "A test plugin.",
		"entry":       "plugin.wasm",
		"runtime":     "wasm",
		"publisher":   map[string]string{"name": p.name, "key_id": p.id},
		"permissions": []map[string]any{
			{"resource": "kv:cache-*", "actions": []string{"read", "write"}, "reason": "Caches results."},
			{"resource": "clipboard", "actions": []string{"write"}, "reason": "Copies the answer."},
		},
	}
	src, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "manifest.json"), src, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "plugin.wasm"), entry, 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "assets"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "assets", "readme.txt"), []byte("hello\n"), 0o644))
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// packSigned packs dir with assets/readme.txt and signs it with p.
func packSigned(t testing.TB, dir string, p publisher) *Bundle {
	t.Helper()
	b, err := Pack(context.Background(), dir, PackOptions{Include: []string{"assets/readme.txt"}, ToolVersion: "test"})
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	s, err := Sign(context.Background(), b, p.priv)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func encode(t testing.TB, b *Bundle) []byte {
	t.Helper()
	var buf bytes.Buffer
	must(t, b.Encode(&buf, nil))
	return buf.Bytes()
}

// withFile returns a copy of b with name replaced, bypassing Sign, as an
// attacker editing the archive would.
func withFile(t testing.TB, b *Bundle, name string, data []byte) *Bundle {
	t.Helper()
	var files []File
	for _, n := range b.Names() {
		d, _ := b.File(n)
		if n == name {
			d = data
		}
		files = append(files, File{Name: n, Data: d})
	}
	if _, ok := b.File(name); !ok {
		files = append(files, File{Name: name, Data: data})
	}
	c, err := New(files)
	if err != nil {
		t.Fatalf("rebuild bundle with %s: %v", name, err)
	}
	return c
}
