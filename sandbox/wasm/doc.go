// Package wasm runs warden plugins compiled to WebAssembly, on wazero, with
// WASI preview 1 (https://github.com/WebAssembly/WASI/blob/snapshot-01/phases/snapshot/docs.md)
// and warden's own host import ABI (docs/abi.md).
//
// Its one job is containment: a guest gets nothing by default, and everything
// it reaches outside its linear memory passes a [Gate] with the instance's
// capability tokens. Three doors exist and all three lead to the gate:
//
//   - the import warden.call, which carries a method name and JSON params
//     (see hostcall.go and docs/abi.md);
//   - the WASI filesystem, which is not a directory mount but a capability
//     filesystem (capfs.go) mounted at "/" whose every open, stat, readdir,
//     mkdir, rename and unlink asks the gate, so a guest's plain os.ReadFile is
//     checked and audited exactly like an explicit host call;
//   - standard output and standard error, captured with a size cap and handed
//     to a log callback.
//
// There are no sockets, no environment variables unless the host passes some,
// no arguments, the real clock (never a skewed one), and crypto/rand as the
// random source.
//
// # Differences from the anchors
//
// wazero's own directory mounts (sysfs.DirFS, FSConfig.WithDirMount) follow
// relative symlinks out of the mount (wazero issues 2321 and 2324), so they are
// never used; the capability filesystem implements experimental/sys.FS itself
// and opens host files only through the gate, which resolves symlinks on the
// host and re-checks the result.
//
// Extism (the closest peer) copies input and output through a kernel module
// with one host call per 8 bytes or per byte; warden's tool ABI instead asks
// the guest for one buffer (warden_alloc), writes the tool name and input into
// it with one copy, and reads the result envelope straight out of guest
// memory. Host calls hand their result back in one crossing when it fits the
// guest's buffer, and in two when it does not.
//
// # Limits and their cost
//
//   - Memory: a page limit per instance, from the manifest, capped by the
//     engine. wazero's limit is runtime-wide, so the engine keeps one runtime per
//     memory class (the limit rounded up to a power of two MiB) sharing one
//     compilation cache.
//   - CPU: a deadline per call, enforced by wazero's WithCloseOnContextDone,
//     which adds a check on every loop back-edge; the benchmarks in this package
//     measure that cost. A timed-out, trapped or exited instance is closed and
//     never reused.
//   - Output: the tool result, each host call's params and result, and the
//     captured stdout/stderr all have byte caps.
//
// The compilation cache holds native code that wazero guards only with a CRC,
// so [NewEngine] refuses a cache directory that anyone but its owner can
// write, and [Engine.Compile] checks the module's bytes against the verified
// digest it is given (wazero keys cache entries by the same SHA-256).
package wasm
