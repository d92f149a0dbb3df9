package wasm

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The exports a guest must provide; see docs/abi.md.
const (
	exportMemory = "memory"
	exportAlloc  = "warden_alloc"
	exportCall   = "warden_call"
	exportInit   = "_initialize"
)

// Module is a compiled guest. Compiling is the slow step (about half a second
// for a Go guest, once; the compilation cache makes later runs fast), so a
// host compiles each plugin once and instantiates it many times.
type Module struct {
	eng    *Engine
	digest string
	wasm   []byte      // owned: Compile does not copy what it is given
	hash   *moduleHash // the SHA-256 of wasm, computed beside the first compile
	pre    *prefetch   // the cache entry read ahead for the first compile, if any

	mu       sync.Mutex
	compiled map[uint32]wazero.CompiledModule // by memory class
}

// ErrDigestMismatch matches, with errors.Is, every *DigestError.
var ErrDigestMismatch = errors.New("the module's bytes do not have the verified digest")

// DigestError reports that the bytes given to Compile do not hash to the
// digest the caller verified: the file changed after it was checked.
type DigestError struct {
	Want, Got string // "sha256:<hex>"
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("its bytes hash to %s, not to the verified digest %s; reinstall the plugin", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrDigestMismatch) true for every DigestError.
func (e *DigestError) Is(target error) bool { return target == ErrDigestMismatch }

// Compile checks that wasm has the digest the caller verified ("sha256:<hex>";
// empty means "compute it") and follows the ABI: it imports only the modules
// "warden" and "wasi_snapshot_preview1" and exports memory, warden_alloc and
// warden_call with the documented signatures. A digest mismatch is a
// *DigestError. The engine's compilation cache names and seals native code by
// the SHA-256 of wasm, which the digest check makes the verified digest.
//
// The Module keeps wasm without copying it (a Go guest is megabytes, and a
// copy showed in the cold start): the caller must not change it afterwards.
//
// Compile is the one place the bytes are hashed. The hash runs beside wazero's
// decoding, on another core, and is checked before Compile returns: nothing
// can instantiate the module until its bytes are known to be the verified
// ones. The cache entry for the claimed digest is read and authenticated
// beside the decoding too, and used only if the bytes hash to that digest;
// what the compile stores is sealed under the digest the bytes have, so
// bytes that then fail the check cache nothing that could be loaded in the
// verified module's stead.
func (e *Engine) Compile(ctx context.Context, wasm []byte, digest string) (*Module, error) {
	m := &Module{eng: e, wasm: wasm, hash: hashAsync(wasm), compiled: map[uint32]wazero.CompiledModule{}}
	if d, ok := parseDigest(digest); ok && e.entries != nil {
		// Read and authenticate the cache entry while wazero decodes; it is
		// used only if the bytes have the digest claimed.
		m.pre = e.entries.startPrefetch(d)
	}
	// Compile once in the default class now, so a bad module fails at load.
	_, cerr := m.compiledFor(ctx, e.memoryClass(0))
	h := m.hash.wait()
	m.digest = "sha256:" + hex.EncodeToString(h[:])
	if digest != "" && !strings.EqualFold(digest, m.digest) {
		_ = m.Close(ctx)
		return nil, fmt.Errorf("compile wasm module: %w", &DigestError{Want: digest, Got: m.digest})
	}
	if cerr != nil {
		return nil, fmt.Errorf("compile wasm module %s: %w", m.digest, cerr)
	}
	return m, nil
}

// Digest returns the module's "sha256:<hex>" digest.
func (m *Module) Digest() string { return m.digest }

// compiledFor returns the module compiled in the runtime of a memory class.
// With a shared compilation cache the second class costs a cache lookup, not
// a compile. Its errors do not name the module: the callers do.
func (m *Module) compiledFor(ctx context.Context, pages uint32) (wazero.CompiledModule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cm, ok := m.compiled[pages]; ok {
		return cm, nil
	}
	r, err := m.eng.runtime(ctx, pages)
	if err != nil {
		return nil, err
	}
	cm, err := m.eng.compileModule(ctx, r, m)
	if err != nil {
		return nil, err
	}
	if err := checkABI(cm); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	m.compiled[pages] = cm
	return cm, nil
}

// takePrefetch hands the read-ahead entry to the first compile only.
func (m *Module) takePrefetch() *prefetch {
	p := m.pre
	m.pre = nil
	return p
}

// checkABI rejects a module that imports anything but warden and WASI or
// lacks the exports the host calls.
func checkABI(cm wazero.CompiledModule) error {
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != hostModuleName && mod != "wasi_snapshot_preview1" {
			return fmt.Errorf("it imports %s.%s, but a warden guest may import only from %q and \"wasi_snapshot_preview1\" (see docs/abi.md)", mod, name, hostModuleName)
		}
		if mod == hostModuleName {
			if want, ok := hostSignatures[name]; !ok {
				return fmt.Errorf("it imports %s.%s, which warden does not provide (see docs/abi.md)", mod, name)
			} else if !sameSig(f, want) {
				return fmt.Errorf("it imports %s.%s with signature %v -> %v, want %v -> %v", mod, name, f.ParamTypes(), f.ResultTypes(), want[0], want[1])
			}
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		return fmt.Errorf("it imports memory %s.%s; a warden guest must define and export its own memory", mod, name)
	}
	if _, ok := cm.ExportedMemories()[exportMemory]; !ok {
		return fmt.Errorf("it does not export its memory as %q", exportMemory)
	}
	fns := cm.ExportedFunctions()
	for name, want := range map[string][2][]api.ValueType{
		exportAlloc: {{i32}, {i32}},
		exportCall:  {{i32, i32, i32, i32}, {i64}},
	} {
		f, ok := fns[name]
		if !ok {
			return fmt.Errorf("it does not export %s; a Go guest must be built with -buildmode=c-shared and use the warden pdk", name)
		}
		if !sameSig(f, want) {
			return fmt.Errorf("its export %s has signature %v -> %v, want %v -> %v", name, f.ParamTypes(), f.ResultTypes(), want[0], want[1])
		}
	}
	return nil
}

func sameSig(f api.FunctionDefinition, want [2][]api.ValueType) bool {
	return slices.Equal(f.ParamTypes(), want[0]) && slices.Equal(f.ResultTypes(), want[1])
}

// Close releases the compiled code of the module (not the instances).
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, cm := range m.compiled {
		_ = cm.Close(ctx)
		delete(m.compiled, k)
	}
	return nil
}
