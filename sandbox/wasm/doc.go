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
//     measure that cost (see "The price of the deadline" below). A timed-out,
//     trapped or exited instance is closed and never reused.
//   - Output: the tool result, each host call's params and result, and the
//     captured stdout/stderr all have byte caps.
//   - Budget: each invocation's hostapi.Budget (the one the host put in the
//     context with hostapi.WithBudget, or a default one) goes into the
//     Caller of every host call of that invocation, so the gate bounds what
//     a loop of calls writes, logs and audits; captured stdout and stderr
//     draw on its log budget too.
//
// # The price of the deadline
//
// Measured on a 2-core VM, Go 1.26, wazero v1.12.0 (BenchmarkCPULoop,
// BenchmarkInterruptCheck, BenchmarkInvokeEcho256; cpu-ns/op is process CPU):
//
//	Go guest, 1M-iteration FNV loop:  no check 1.03 ms, close-on-done 24.4 ms (23.7x; P8 asks <= 1.5x)
//	WAT FNV loop, same 1M iterations: no check 1.00 ms, close-on-done 24.1 ms, loop check 1.00 ms
//	warm 256 B echo, raw export:      no check 9.3 us,  close-on-done 90 us
//
// Why it costs that much: with close-on-done, wazero's compiler puts at every
// loop header a call to a trampoline that leaves native code for Go
// (ExitCodeCheckModuleExitCode in internal/engine/wazevo), asks whether the
// module was closed, and re-enters: a full exit and entry per iteration.
// wazero v1.12.0 has nothing cheaper: no fuel, no epoch, no yield API; its
// experimental package offers snapshots, listeners (dearer still) and close
// notifications, none of which stops a running loop.
//
// Why an in-process check cannot be cheaper: the "loop check" row is the
// design of Wasmtime's epoch interruption (one load of a host-written global
// and a branch at each loop header), and it costs nothing measurable. It was
// prototyped here on a WAT guest (interrupt_test.go) and is not correct in a
// Go host. Native code that wazero runs is not a Go preemption point, so a
// guest that loops without leaving native code holds its P through any
// stop-the-world: the next garbage collection waits for the guest, every
// other goroutine of the host waits for the collection, and the goroutine
// that would set the global at the deadline is one of them. The prototype's
// infinite-loop test deadlocked the test binary exactly so, and passes only
// with the collector turned off. wazero's exit to Go on each back-edge is
// the preemption point that prevents this, which is why its check cannot be
// a plain load.
//
// The way out, planned and not built: run guests without the check in a
// worker process (one Go runtime per worker, so a guest's loop can stall only
// its own worker), which the host kills with SIGKILL at the deadline and
// replaces from a pre-forked spare. Host calls cross as JSON-RPC 2.0 lines
// (the process plugins' framing, DESIGN.md) over a socketpair; the worker
// holds no tokens (the host presents the instance's own on its side), and
// the gate, the ledger and the policy stay in the host, so nothing of the
// mediation moves into the worker. The worker also runs under
// the process sandbox (Landlock, seccomp, no network), putting the OS sandbox
// around the WASM one. Costs to pay down: one IPC round trip per host call
// (P1 would need shared-memory rings to stay near 2 us) and a warm pool of
// workers so that a cold start does not pay a fork and a compile-cache load.
// Until then the check stays on: a plugin must never hold a core forever.
//
// The compilation cache holds native code that wazero guards only with a CRC,
// so [NewEngine] refuses a cache directory that anyone but its owner can
// write, and [Engine.Compile] checks the module's bytes against the verified
// digest it is given (wazero keys cache entries by the same SHA-256).
package wasm
