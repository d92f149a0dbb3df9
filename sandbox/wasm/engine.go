package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/internal/home"
)

// Config configures an Engine. It is immutable: each With method returns a
// changed copy, so one Config can be shared.
//
// Its zero value is the confined configuration, the same as NewConfig: no
// compilation cache and a memory cap of DefaultMaxMemoryMB. Nothing in it
// weakens the sandbox: the per-call CPU deadline is not a setting (see
// "Limits and their cost" in the package doc), and a cache directory without
// a key is refused by NewEngine.
type Config struct {
	cacheDir      string
	cacheKey      []byte
	onCacheReject func(CacheRejection)
	maxMemoryMB   int // 0: DefaultMaxMemoryMB
}

// Defaults of a Config.
const (
	// DefaultMaxMemoryMB caps any plugin's memory limit. A manifest may ask for
	// less, never for more.
	DefaultMaxMemoryMB = 1024
	// wasm32 cannot address more than 4 GiB.
	maxMemoryMB = 4096
)

// NewConfig returns the default configuration: no compilation cache (compile
// in memory each run) and a 1 GiB memory cap. It is the zero Config; it
// exists so that a chain of With calls reads from a named start.
func NewConfig() Config { return Config{} }

// WithCacheDir keeps compiled native code in dir, conventionally
// <home>/cache/wasm, so that a module is compiled once across runs. NewEngine
// creates dir with mode 0700 and refuses one that other users can write. A
// cache directory needs a key (WithCacheKey): without one NewEngine fails,
// since entries it cannot authenticate must never be loaded.
func (c Config) WithCacheDir(dir string) Config {
	c.cacheDir = dir
	return c
}

// WithCacheKey sets the secret (at least MinCacheKeyLen bytes) that
// authenticates the entries of the cache directory: each is sealed with
// HMAC-SHA256 under it when written and checked before wazero sees it. A
// host keeps one per home (hostkey.CacheSecret). The Config keeps a copy.
func (c Config) WithCacheKey(secret []byte) Config {
	c.cacheKey = bytes.Clone(secret)
	return c
}

// WithCacheRejectHandler calls fn for every cache entry the engine refused
// to load (see CacheRejection), after the compile that found it, on the
// compiling goroutine. A host records each one in its audit ledger: an entry
// that fails its MAC was written by someone other than warden.
func (c Config) WithCacheRejectHandler(fn func(CacheRejection)) Config {
	c.onCacheReject = fn
	return c
}

// WithMaxMemoryMB caps the memory limit of every instance; limits above it are
// lowered to it. Values outside 1..4096 are clamped.
func (c Config) WithMaxMemoryMB(mb int) Config {
	c.maxMemoryMB = min(max(mb, 1), maxMemoryMB)
	return c
}

// Engine compiles and runs guests. It is safe for concurrent use; one Engine
// per host process is the intent.
type Engine struct {
	cfg   Config
	cache wazero.CompilationCache
	// entries is the authenticated file cache behind cache, nil without a
	// cache directory. compileMu serialises the compiles it serves, so that
	// it knows which module each of wazero's lookups is for.
	entries   *entryCache
	compileMu sync.Mutex

	mu       sync.Mutex
	runtimes map[uint32]wazero.Runtime // by memory limit in pages
	closed   bool
}

// ErrNoCacheKey is returned (wrapped) by NewEngine for a cache directory
// without a key of at least MinCacheKeyLen bytes (WithCacheKey).
var ErrNoCacheKey = errors.New("a compilation cache directory needs a key to authenticate its entries")

// NewEngine checks the compilation cache directory, if configured, and returns
// an engine. A cache directory (or its parent) writable by another user, or
// owned by one, is refused with an error wrapping home.ErrUnsafe: native code
// from such a directory would run in the host. A cache directory without a
// key is refused with ErrNoCacheKey.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.maxMemoryMB == 0 {
		cfg.maxMemoryMB = DefaultMaxMemoryMB
	}
	e := &Engine{cfg: cfg, runtimes: map[uint32]wazero.Runtime{}}
	e.cache = wazero.NewCompilationCache()
	if cfg.cacheDir == "" {
		return e, nil
	}
	if len(cfg.cacheKey) < MinCacheKeyLen {
		return nil, fmt.Errorf("wasm engine: compilation cache %s: %w (Config.WithCacheKey, %d bytes or more): without one, native code that anyone who can write the directory put there would run in warden",
			cfg.cacheDir, ErrNoCacheKey, MinCacheKeyLen)
	}
	dir, err := filepath.Abs(cfg.cacheDir)
	if err != nil {
		return nil, fmt.Errorf("wasm engine: compilation cache %s: %w", cfg.cacheDir, err)
	}
	if err := checkCacheDir(dir); err != nil {
		return nil, fmt.Errorf("wasm engine: refusing the compilation cache, because whoever can write it can run code in warden: %w", err)
	}
	edir := entriesDir(dir)
	if err := home.Ensure(edir); err != nil {
		return nil, fmt.Errorf("wasm engine: refusing the compilation cache: %w", err)
	}
	if err := checkCacheTree(dir); err != nil {
		return nil, fmt.Errorf("wasm engine: refusing the compilation cache: %w", err)
	}
	e.entries = newEntryCache(edir, cfg.cacheKey)
	if err := installEntryCache(e.cache, e.entries); err != nil {
		return nil, fmt.Errorf("wasm engine: compilation cache %s: %w", dir, err)
	}
	return e, nil
}

// compileModule compiles m's bytes in runtime r. With a cache directory the
// compile runs alone on the engine, with the cache told which module it is
// for, and the entries the cache refused are reported once it is done.
func (e *Engine) compileModule(ctx context.Context, r wazero.Runtime, m *Module) (wazero.CompiledModule, error) {
	if e.entries == nil {
		return r.CompileModule(ctx, m.wasm)
	}
	job := &cacheJob{hash: m.hash, pre: m.takePrefetch()}
	e.compileMu.Lock()
	e.entries.begin(job)
	cm, err := r.CompileModule(ctx, m.wasm)
	e.entries.end()
	e.compileMu.Unlock()
	if job.pre != nil {
		<-job.pre.done // never leave a read running past the compile
	}
	if fn := e.cfg.onCacheReject; fn != nil {
		for _, rj := range job.rejected {
			fn(rj)
		}
	}
	return cm, err
}

// checkCacheDir creates dir 0700 when missing and checks it and its parent.
func checkCacheDir(dir string) error {
	parent := filepath.Dir(dir)
	if _, err := os.Stat(parent); err == nil {
		if err := home.CheckPrivate(parent); err != nil {
			return err
		}
	}
	return home.Ensure(dir)
}

// checkCacheTree checks every directory and file up to two levels below dir:
// the entries are in dir/warden-mac1-wazero-<version>-<arch>-<os>/<digest>.
func checkCacheTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, ent := range ents {
		p := filepath.Join(dir, ent.Name())
		if err := home.CheckPrivate(p); err != nil {
			return err
		}
		if !ent.IsDir() {
			continue
		}
		sub, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		for _, s := range sub {
			if err := home.CheckPrivate(filepath.Join(p, s.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// memoryClass rounds a limit in MiB up to a power of two and caps it, so that
// few runtimes serve many plugins. The result is in wasm pages (64 KiB).
func (e *Engine) memoryClass(mb int) uint32 {
	if mb <= 0 {
		mb = 64
	}
	mb = min(mb, e.cfg.maxMemoryMB)
	class := 1
	for class < mb {
		class <<= 1
	}
	class = min(class, e.cfg.maxMemoryMB)
	return uint32(class) * 16
}

// runtime returns the runtime for a memory class, creating it on first use
// with WASI and the warden host module instantiated.
func (e *Engine) runtime(ctx context.Context, pages uint32) (wazero.Runtime, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errEngineClosed()
	}
	if r, ok := e.runtimes[pages]; ok {
		return r, nil
	}
	// The deadline is always on: without it a guest that loops never
	// returns, whatever its context says (and stalls the host's garbage
	// collector with it). It is not a Config setting, so no value of one,
	// the zero value included, can turn it off.
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(true)
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("wasm engine: instantiate WASI: %w", err)
	}
	if err := instantiateHostModule(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	e.runtimes[pages] = r
	return r, nil
}

// Close closes every runtime, which closes every instance and compiled module
// of this engine, and then the compilation cache.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, r := range e.runtimes {
		errs = append(errs, r.Close(ctx))
	}
	errs = append(errs, e.cache.Close(ctx))
	return errors.Join(errs...)
}

func errEngineClosed() error {
	return hostapi.Errorf(hostapi.CodeUnavailable, "the wasm engine is closed")
}

// i32 shortens signatures below.
const i32, i64 = api.ValueTypeI32, api.ValueTypeI64
