package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wardenproject/warden/internal/cpumeter"
)

// cacheGuest is testdata/wat/const_K.wat, a minimal guest whose every tool
// answers with the eight ASCII bytes of K, stored by an i64.const: the
// constant is an immediate in the native code, so code compiled from another
// constant is another answer.
func cacheGuest(t *testing.T, k string) []byte {
	t.Helper()
	return watModule(t, "const_"+k)
}

const (
	answerA = "11111111" // cacheGuest(t, "1")
	answerB = "22222222" // cacheGuest(t, "2")
)

// rejections collects what an engine reports through WithCacheRejectHandler.
type rejections struct {
	mu   sync.Mutex
	list []CacheRejection
}

func (r *rejections) add(c CacheRejection) {
	r.mu.Lock()
	r.list = append(r.list, c)
	r.mu.Unlock()
}

func (r *rejections) take() []CacheRejection {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.list
	r.list = nil
	return out
}

func cacheEngine(t *testing.T, dir string, key []byte, rj *rejections) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), NewConfig().WithCacheDir(dir).WithCacheKey(key).WithCacheRejectHandler(rj.add))
	must(t, err)
	return e
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// answer compiles wasm on e (checked against its digest), runs a tool and
// returns the result.
func answer(t *testing.T, e *Engine, wasm []byte) string {
	t.Helper()
	ctx := context.Background()
	m, err := e.Compile(ctx, wasm, digestOf(wasm))
	must(t, err)
	defer m.Close(ctx)
	inst, err := m.Instantiate(ctx, InstanceConfig{Gate: newTestGate(nil)})
	must(t, err)
	defer inst.Close(ctx)
	out, err := inst.Invoke(ctx, "x", []byte(`{}`))
	must(t, err)
	return string(out)
}

// warmCache makes a fresh cache directory holding the entries of guests A
// and B, compiled by an engine that is then closed: the next engine loads
// them from disk.
func warmCache(t *testing.T) (dir string, key []byte, a, b []byte) {
	t.Helper()
	parent := filepath.Join(t.TempDir(), "cache")
	must(t, os.Mkdir(parent, 0o700))
	dir = filepath.Join(parent, "wasm")
	key = bytes.Repeat([]byte{0xc3}, MinCacheKeyLen)
	a, b = cacheGuest(t, "1"), cacheGuest(t, "2")
	var rj rejections
	e := cacheEngine(t, dir, key, &rj)
	if got := answer(t, e, a); got != answerA {
		t.Fatalf("guest A answers %s, want %s", got, answerA)
	}
	if got := answer(t, e, b); got != answerB {
		t.Fatalf("guest B answers %s, want %s", got, answerB)
	}
	must(t, e.Close(context.Background()))
	if got := rj.take(); len(got) != 0 {
		t.Fatalf("a fresh cache reported rejections: %+v", got)
	}
	return dir, key, a, b
}

// cacheFile is one file of the cache directory holding a wazero entry at
// offset off (after warden's header, if the file has one).
type cacheFile struct {
	path string
	data []byte
	off  int
}

// content is the wazero entry itself.
func (f cacheFile) content() []byte { return f.data[f.off:] }

// native returns where the native code lies in the file, and the offset of
// the CRC that follows it (wazevo's serializeCompiledModule).
func (f cacheFile) native(t *testing.T) (start, end int) {
	t.Helper()
	c := f.content()
	p := 6
	vlen := int(c[p])
	p += 1 + vlen
	n := int(binary.LittleEndian.Uint32(c[p:]))
	p += 4 + 8*n
	execLen := int(binary.LittleEndian.Uint64(c[p:]))
	p += 8
	if p+execLen+4 > len(c) {
		t.Fatalf("%s: not a wazero entry", f.path)
	}
	return f.off + p, f.off + p + execLen
}

// entryFiles returns the files of the cache holding a wazero entry whose
// native code contains the answer's bytes, wherever the engine keeps them:
// the attacks below rewrite what is on disk, whatever the layout.
func entryFiles(t *testing.T, dir, answer string) []cacheFile {
	t.Helper()
	var out []cacheFile
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		off := bytes.Index(data, []byte("WAZEVO"))
		if off < 0 {
			return nil
		}
		f := cacheFile{path: p, data: data, off: off}
		s, e := f.native(t)
		if bytes.Contains(data[s:e], []byte(answer)) {
			out = append(out, f)
		}
		return nil
	}))
	if len(out) == 0 {
		t.Fatalf("no cache entry under %s holds native code with %q", dir, answer)
	}
	return out
}

// fixCRC recomputes wazero's checksum over the native code, as an attacker
// can: it is CRC-32C, not a MAC.
func fixCRC(t *testing.T, f cacheFile) {
	s, e := f.native(t)
	sum := crc32.Checksum(f.data[s:e], crc32.MakeTable(crc32.Castagnoli))
	binary.LittleEndian.PutUint32(f.data[e:], sum)
}

func writeEntry(t *testing.T, path string, data []byte) {
	t.Helper()
	must(t, os.WriteFile(path, data, 0o600))
	must(t, os.Chmod(path, 0o600))
}

// Attack (issue 10, finding 1): a plugin that can write the compilation cache
// rewrites its own entry so that the next run executes its code in warden.
// Every variant must be refused before wazero loads a byte of it, reported,
// and the guest must still run its own code.
func TestCacheRefusesForgedEntries(t *testing.T) {
	for _, tc := range []struct {
		name string
		// forge rewrites the cache in dir; a and b are the entry files of
		// guests A and B.
		forge func(t *testing.T, dir string, a, b cacheFile)
	}{
		{"native code patched and CRC fixed", func(t *testing.T, dir string, a, _ cacheFile) {
			s, e := a.native(t)
			code := a.data[s:e]
			if i := bytes.Index(code, []byte(answerA)); i >= 0 {
				copy(code[i:], answerB) // the immediate: A's code now answers B
			} else {
				code[len(code)/2] ^= 0xff
			}
			fixCRC(t, a)
			writeEntry(t, a.path, a.data)
		}},
		{"another module's whole entry under this one's name", func(t *testing.T, dir string, a, b cacheFile) {
			writeEntry(t, a.path, b.data)
		}},
		{"another module's compiled code behind this one's header", func(t *testing.T, dir string, a, b cacheFile) {
			writeEntry(t, a.path, append(bytes.Clone(a.data[:a.off]), b.content()...))
		}},
		{"an entry without a MAC, private and owned by the user", func(t *testing.T, dir string, a, b cacheFile) {
			writeEntry(t, a.path, bytes.Clone(b.content()))
		}},
		{"an entry under another cache key", func(t *testing.T, dir string, a, b cacheFile) {
			if a.off < cacheHeaderLen {
				t.Fatalf("%s has no warden header", a.path)
			}
			var wkey [32]byte
			copy(wkey[:], a.data[len(cacheMagic)+8+32:])
			var d [32]byte
			copy(d[:], a.data[len(cacheMagic)+8:])
			other := newEntryCache(dir, bytes.Repeat([]byte{0x11}, MinCacheKeyLen))
			writeEntry(t, a.path, other.seal(d, wkey, b.content()))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, key, wa, wb := warmCache(t)
			fa, fb := entryFiles(t, dir, answerA), entryFiles(t, dir, answerB)
			for _, f := range fa {
				tc.forge(t, dir, f, fb[0])
			}
			var rj rejections
			e := cacheEngine(t, dir, key, &rj)
			got := answer(t, e, wa)
			must(t, e.Close(context.Background()))
			if got != answerA {
				t.Fatalf("guest A answered %s: the forged cache entry ran in the host", got)
			}
			rs := rj.take()
			if len(rs) != 1 || rs[0].Digest != digestOf(wa) || rs[0].Entry == "" || rs[0].Reason == "" || rs[0].SHA256 == "" {
				t.Fatalf("rejections %+v; want one naming A's digest, the entry, its hash and why", rs)
			}
			t.Logf("refused: %s: %s", rs[0].Entry, rs[0].Reason)
			// The entry was replaced by a sealed one: the next engine loads
			// it without a word.
			e = cacheEngine(t, dir, key, &rj)
			got = answer(t, e, wa)
			must(t, e.Close(context.Background()))
			if got != answerA || len(rj.take()) != 0 {
				t.Fatalf("after the refusal: answer %s, rejections reported again", got)
			}
			_ = wb
		})
	}
}

// Attack: an entry planted where wazero's own file cache would look (its
// layout, under wazero's name for the module, private and owned by the
// user) is never read: wazero is given entries only by warden.
func TestCacheIgnoresWazeroLayout(t *testing.T) {
	dir, key, wa, _ := warmCache(t)
	fa, fb := entryFiles(t, dir, answerA)[0], entryFiles(t, dir, answerB)[0]
	if fa.off != cacheHeaderLen {
		t.Fatalf("%s has no warden header", fa.path)
	}
	wkey := fa.data[len(cacheMagic)+8+32 : len(cacheMagic)+8+32+32]
	wdir := filepath.Join(dir, "wazero-"+wazeroVersion()+"-"+runtime.GOARCH+"-"+runtime.GOOS)
	must(t, os.MkdirAll(wdir, 0o700))
	writeEntry(t, filepath.Join(wdir, hex.EncodeToString(wkey)), bytes.Clone(fb.content()))
	must(t, os.Remove(fa.path)) // nothing of warden's for A: a compile, or the plant
	var rj rejections
	e := cacheEngine(t, dir, key, &rj)
	defer e.Close(context.Background())
	if got := answer(t, e, wa); got != answerA {
		t.Fatalf("guest A answered %s: an entry planted in wazero's layout ran", got)
	}
}

// A persistent cache without its key is refused: it could not tell warden's
// entries from anyone else's.
func TestCacheNeedsKey(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "wasm")
	for _, key := range [][]byte{nil, bytes.Repeat([]byte{1}, MinCacheKeyLen-1)} {
		e, err := NewEngine(ctx, NewConfig().WithCacheDir(dir).WithCacheKey(key))
		if err == nil {
			e.Close(ctx)
			t.Fatalf("a cache with a %d-byte key was accepted", len(key))
		}
		if !errors.Is(err, ErrNoCacheKey) {
			t.Fatalf("error %v does not wrap ErrNoCacheKey", err)
		}
	}
	// No cache directory needs no key.
	e, err := NewEngine(ctx, NewConfig())
	must(t, err)
	e.Close(ctx)
}

// The hook fits the wazero in go.mod, and fits once: a cache that already has
// a file cache is refused rather than silently replaced.
func TestCacheHookFitsWazero(t *testing.T) {
	cc := wazero.NewCompilationCache()
	defer cc.Close(context.Background())
	c := newEntryCache(t.TempDir(), bytes.Repeat([]byte{1}, MinCacheKeyLen))
	if err := installEntryCache(cc, c); err != nil {
		t.Fatalf("wazero's compilation cache changed shape: %v", err)
	}
	if err := installEntryCache(cc, c); !errors.Is(err, errCacheHook) {
		t.Fatalf("a second install: %v, want errCacheHook", err)
	}
	withDir, err := wazero.NewCompilationCacheWithDir(t.TempDir())
	must(t, err)
	defer withDir.Close(context.Background())
	if err := installEntryCache(withDir, c); !errors.Is(err, errCacheHook) {
		t.Fatalf("over wazero's own file cache: %v, want errCacheHook", err)
	}
}

// Outside a compile the engine runs, the cache answers nothing and stores
// nothing: no lookup reaches the disk without a module to check it against.
func TestCacheWithoutJob(t *testing.T) {
	dir := t.TempDir()
	c := newEntryCache(dir, bytes.Repeat([]byte{1}, MinCacheKeyLen))
	var k [32]byte
	if _, ok, err := c.Get(k); ok || err != nil {
		t.Fatalf("Get outside a compile: ok %v, err %v", ok, err)
	}
	must(t, c.Add(k, strings.NewReader("native code")))
	ents, err := os.ReadDir(dir)
	must(t, err)
	if len(ents) != 0 {
		t.Fatalf("Add outside a compile wrote %v", ents)
	}
}

func FuzzCacheEntry(f *testing.F) {
	secret := bytes.Repeat([]byte{7}, MinCacheKeyLen)
	var digest, wkey [32]byte
	digest[0], wkey[0] = 1, 2
	c := newEntryCache("", secret)
	good := c.seal(digest, wkey, []byte("WAZEVO entry"))
	f.Add(good)
	f.Add(good[:cacheHeaderLen])
	f.Add([]byte("WAZEVO not sealed"))
	f.Add(append(bytes.Clone(good), 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		c := newEntryCache(dir, secret)
		must(t, os.WriteFile(c.path(digest), data, 0o600))
		r := c.read(digest)
		if r.missing {
			t.Fatal("an existing entry read as missing")
		}
		if r.reject == nil && !bytes.Equal(data, c.seal(digest, r.wkey, r.content)) {
			t.Fatalf("accepted %x, which is not what seal writes", data)
		}
	})
}

// BenchmarkCacheEntry is what authentication adds to a cold start from the
// cache: reading the Go guest's entry into memory and checking its MAC
// (read), and the HMAC-SHA256 alone (mac).
func BenchmarkCacheEntry(b *testing.B) {
	ctx := context.Background()
	wasm := goGuest(b)
	dir := filepath.Join(b.TempDir(), "wasm")
	e, err := NewEngine(ctx, cacheConfig(dir))
	must(b, err)
	m, err := e.Compile(ctx, wasm, "")
	must(b, err)
	must(b, m.Close(ctx))
	must(b, e.Close(ctx))
	c := newEntryCache(entriesDir(dir), testCacheKey)
	digest := sha256.Sum256(wasm)
	r := c.read(digest)
	if r.reject != nil || r.missing {
		b.Fatalf("entry: %+v", r.reject)
	}
	b.Logf("entry of %d bytes", len(r.content))
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(len(r.content)))
		defer cpumeter.Start(b)()
		for b.Loop() {
			if got := c.read(digest); got.reject != nil {
				b.Fatal(got.reject.Reason)
			}
		}
	})
	b.Run("mac", func(b *testing.B) {
		b.SetBytes(int64(len(r.content)))
		defer cpumeter.Start(b)()
		for b.Loop() {
			c.mac(nil, r.content)
		}
	})
}
