package wasm

// This file is the compilation cache on disk. wazero's own file cache
// (internal/filecache) trusts whatever bytes sit in its directory, checked
// only by a CRC that anyone can recompute, and those bytes become native code
// in the host. warden puts its own implementation in wazero's place: every
// entry carries an HMAC-SHA256 under a secret of the host, and wazero is
// handed an entry only from memory, after the MAC over those very bytes was
// checked. See "The compilation cache" in doc.go for the design and why.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/tetratelabs/wazero"

	"github.com/wardenproject/warden/internal/atomicfile"
	"github.com/wardenproject/warden/internal/private"
)

// An entry file is a fixed header followed by wazero's serialised module:
//
//	magic   8 bytes  "WDNCC\x00\x00\x01"
//	key id  8 bytes  the first 8 bytes of SHA-256(cacheDomain || secret)
//	digest 32 bytes  SHA-256 of the module's wasm bytes
//	wkey   32 bytes  wazero's name for the entry (its module id, CPU features)
//	mac    32 bytes  HMAC-SHA256(secret, cacheDomain || magic || key id || digest || wkey || content)
//	content          what wazero serialised, unchanged
//
// The file is named by the module's digest, so that the entry can be read
// (and its MAC checked) while wazero is still decoding the module.
const (
	cacheMagic     = "WDNCC\x00\x00\x01"
	cacheDomain    = "warden sandbox/wasm compilation cache entry v1\x00"
	cacheHeaderLen = len(cacheMagic) + 8 + 32 + 32 + 32
	// MinCacheKeyLen is the shortest secret WithCacheKey accepts.
	MinCacheKeyLen = 32
	// maxCacheEntry bounds what is read into memory: a Go guest's native
	// code is tens of MB; anything near this is not an entry warden wrote.
	maxCacheEntry = 512 << 20
)

// CacheRejection reports a compilation cache entry that the engine refused
// to load: its MAC did not verify, it was not a regular private file, or it
// could not be read. The entry was removed and the module compiled afresh;
// nothing of it ran. A host records each one as tamper evidence.
type CacheRejection struct {
	Digest string // "sha256:<hex>" of the module being compiled
	Entry  string // the entry file
	SHA256 string // "sha256:<hex>" of the rejected file's bytes, when they could be read
	Reason string
}

// entryCache is the wazero file cache (wazero's internal filecache.Cache
// interface: Get, Add, Delete keyed by a 32-byte name) that authenticates
// every entry. wazero calls it only from inside CompileModule, which the
// engine runs one at a time per engine with job naming the module; a call
// with no job is refused, so no path reaches the disk unauthenticated.
type entryCache struct {
	dir    string
	secret []byte
	keyID  [8]byte

	mu  sync.Mutex
	job *cacheJob
}

// cacheJob is one CompileModule call on a persistent cache.
type cacheJob struct {
	hash     *moduleHash
	pre      *prefetch // the entry read ahead for the digest the caller claimed; may be nil
	rejected []CacheRejection
}

// prefetch is an entry read and verified beside wazero's decoding.
type prefetch struct {
	digest [sha256.Size]byte
	done   chan struct{}
	res    entryRead
}

// entryRead is what reading one entry found.
type entryRead struct {
	missing bool
	wkey    [32]byte
	content []byte
	reject  *CacheRejection // set when the entry is refused
}

func newEntryCache(dir string, secret []byte) *entryCache {
	c := &entryCache{dir: dir, secret: bytes.Clone(secret)}
	id := sha256.Sum256(append([]byte(cacheDomain), secret...))
	copy(c.keyID[:], id[:])
	return c
}

// entriesDir is where the entries of this wazero version, architecture and
// OS live under the configured cache directory. wazero's own entries, if an
// older warden left some, are in a sibling directory and never read.
func entriesDir(cacheDir string) string {
	return filepath.Join(cacheDir, "warden-mac1-wazero-"+wazeroVersion()+"-"+runtime.GOARCH+"-"+runtime.GOOS)
}

// wazeroVersion is the version of wazero linked in, found the way wazero
// finds it for its own cache (internal/version): "dev" when the binary
// carries no module information, as test binaries do not.
func wazeroVersion() string {
	v := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				v = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					v = d.Replace.Version
				}
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	return v
}

// errCacheHook is returned when wazero's compilation cache is not the
// structure this file was written against: a wazero upgrade changed it. The
// engine then refuses to start with a persistent cache rather than fall back
// to wazero's unauthenticated one.
var errCacheHook = errors.New("this wazero's compilation cache does not have the file cache field warden replaces (sandbox/wasm/cache.go); re-check the hook against the new wazero")

// installEntryCache makes c the file cache of the in-memory compilation
// cache cc (from wazero.NewCompilationCache, which has none). wazero exposes
// no API for a custom file cache: its cache struct holds one in the
// unexported field fileCache (wazero v1.12.0, cache.go), which every engine
// created from it is handed. The field is found by name and type, and set
// only when its interface is exactly the one entryCache implements and it is
// still nil; anything else is errCacheHook.
func installEntryCache(cc wazero.CompilationCache, c *entryCache) error {
	v := reflect.ValueOf(cc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return errCacheHook
	}
	f := v.Elem().FieldByName("fileCache")
	if !f.IsValid() || f.Kind() != reflect.Interface || f.Type().NumMethod() != 3 ||
		!reflect.TypeOf(c).Implements(f.Type()) || !f.IsNil() {
		return errCacheHook
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(c))
	return nil
}

// begin makes job the compile the cache serves. The engine holds its compile
// lock from begin to end.
func (c *entryCache) begin(job *cacheJob) {
	c.mu.Lock()
	c.job = job
	c.mu.Unlock()
}

func (c *entryCache) end() {
	c.mu.Lock()
	c.job = nil
	c.mu.Unlock()
}

func (c *entryCache) current() *cacheJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.job
}

func (c *entryCache) path(digest [sha256.Size]byte) string {
	return filepath.Join(c.dir, hex.EncodeToString(digest[:]))
}

// startPrefetch reads the entry for the digest the caller claims while
// wazero decodes the module; Get uses it only if the module's bytes turn
// out to have that digest.
func (c *entryCache) startPrefetch(digest [sha256.Size]byte) *prefetch {
	p := &prefetch{digest: digest, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.res = c.read(digest)
	}()
	return p
}

// Get is wazero's cache lookup for the entry named wkey. It returns the
// content only after its MAC verified, from memory: wazero never opens a
// file of the cache. A refused entry is removed, reported through the job
// and treated as a miss, so wazero compiles the module afresh.
func (c *entryCache) Get(wkey [32]byte) (io.ReadCloser, bool, error) {
	job := c.current()
	if job == nil {
		return nil, false, nil
	}
	digest := job.hash.wait()
	var r entryRead
	if p := job.pre; p != nil && p.digest == digest {
		<-p.done
		r = p.res
	} else {
		r = c.read(digest)
	}
	switch {
	case r.missing:
		return nil, false, nil
	case r.reject != nil:
		job.rejected = append(job.rejected, *r.reject)
		_ = os.Remove(r.reject.Entry)
		return nil, false, nil
	case r.wkey != wkey:
		// Written by warden for these bytes, but under other CPU features
		// or runtime settings: a miss, which Add then replaces.
		return nil, false, nil
	}
	return io.NopCloser(bytes.NewReader(r.content)), true, nil
}

// Add stores what wazero compiled for the current module, sealed with the
// MAC. A failure to write is not an error of the compile: the next run
// compiles again.
func (c *entryCache) Add(wkey [32]byte, content io.Reader) error {
	job := c.current()
	if job == nil {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(content, maxCacheEntry))
	if err != nil {
		return nil
	}
	digest := job.hash.wait()
	_ = atomicfile.Write(c.path(digest), c.seal(digest, wkey, data), 0o600)
	return nil
}

// Delete is wazero discarding an entry it found stale (written by another
// wazero version).
func (c *entryCache) Delete(wkey [32]byte) error {
	if job := c.current(); job != nil {
		_ = os.Remove(c.path(job.hash.wait()))
	}
	return nil
}

// seal returns the entry file for content.
func (c *entryCache) seal(digest [sha256.Size]byte, wkey [32]byte, content []byte) []byte {
	out := make([]byte, 0, cacheHeaderLen+len(content))
	out = append(out, cacheMagic...)
	out = append(out, c.keyID[:]...)
	out = append(out, digest[:]...)
	out = append(out, wkey[:]...)
	mac := c.mac(out, content)
	out = append(out, mac...)
	return append(out, content...)
}

// mac is HMAC-SHA256 over the domain, the header up to the MAC, and the
// content. The domain keeps the secret from ever authenticating anything but
// a cache entry of this format.
func (c *entryCache) mac(head, content []byte) []byte {
	h := hmac.New(sha256.New, c.secret)
	h.Write([]byte(cacheDomain))
	h.Write(head)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(content)))
	h.Write(n[:])
	h.Write(content)
	return h.Sum(nil)
}

// read reads the entry for digest and checks it: a regular file, private to
// this user, no larger than maxCacheEntry, with this format, this key, this
// digest and a MAC that verifies. Only then is its content returned.
func (c *entryCache) read(digest [sha256.Size]byte) entryRead {
	path := c.path(digest)
	dg := "sha256:" + hex.EncodeToString(digest[:])
	refuse := func(data []byte, format string, args ...any) entryRead {
		rj := &CacheRejection{Digest: dg, Entry: path, Reason: fmt.Sprintf(format, args...)}
		if data != nil {
			s := sha256.Sum256(data)
			rj.SHA256 = "sha256:" + hex.EncodeToString(s[:])
		}
		return entryRead{reject: rj}
	}
	f, err := private.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return entryRead{missing: true}
	}
	if err != nil {
		return refuse(nil, "cannot open it: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return refuse(nil, "cannot stat it: %v", err)
	}
	if err := checkEntryFile(f, fi); err != nil {
		return refuse(nil, "%v", err)
	}
	if fi.Size() < int64(cacheHeaderLen) || fi.Size() > maxCacheEntry {
		return refuse(nil, "its size %d bytes is not that of an entry warden writes", fi.Size())
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return refuse(nil, "cannot read it: %v", err)
	}
	head, mac, content := data[:cacheHeaderLen-32], data[cacheHeaderLen-32:cacheHeaderLen], data[cacheHeaderLen:]
	switch {
	case string(head[:len(cacheMagic)]) != cacheMagic:
		return refuse(data, "it does not start with warden's entry header, so warden did not write it")
	case !hmac.Equal(head[len(cacheMagic):len(cacheMagic)+8], c.keyID[:]):
		return refuse(data, "it is sealed under another cache key than this host's (a rotated key, a cache shared by several homes, or a forgery)")
	case !hmac.Equal(mac, c.mac(head, content)):
		return refuse(data, "its MAC does not verify: the entry was changed after warden wrote it")
	case !bytes.Equal(head[len(cacheMagic)+8:len(cacheMagic)+8+32], digest[:]):
		return refuse(data, "it was sealed for another module than the file name says")
	}
	r := entryRead{content: content}
	copy(r.wkey[:], head[len(cacheMagic)+8+32:])
	return r
}

// checkEntryFile refuses an entry that is not a regular file owned by this
// user and private to it (the MAC is what authenticates it; this keeps the
// ownership and mode rule of the cache directory for every file in it).
func checkEntryFile(f *os.File, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("it is not a regular file (%v)", fi.Mode().Type())
	}
	if err := private.CheckFile(f, fi); err != nil {
		return fmt.Errorf("it is not private to this user: %w", err)
	}
	return nil
}

// moduleHash is the SHA-256 of a module's bytes, computed beside wazero's
// decoding.
type moduleHash struct {
	done chan struct{}
	sum  [sha256.Size]byte
}

func hashAsync(b []byte) *moduleHash {
	h := &moduleHash{done: make(chan struct{})}
	go func() {
		h.sum = sha256.Sum256(b)
		close(h.done)
	}()
	return h
}

func (h *moduleHash) wait() [sha256.Size]byte {
	<-h.done
	return h.sum
}

// parseDigest returns the 32 bytes of a "sha256:<hex>" digest.
func parseDigest(s string) ([sha256.Size]byte, bool) {
	var d [sha256.Size]byte
	if len(s) != len("sha256:")+2*sha256.Size || s[:len("sha256:")] != "sha256:" {
		return d, false
	}
	if _, err := hex.Decode(d[:], []byte(s[len("sha256:"):])); err != nil {
		return d, false
	}
	return d, true
}
