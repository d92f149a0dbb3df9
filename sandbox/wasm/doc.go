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
//     measure that cost (see "The price of the deadline" below). The check is
//     not a setting: every runtime of every Engine has it, so no Config, the
//     zero one included, runs a guest without a deadline, and no Limits asks
//     for one past MaxTimeout (the benchmarks that measure a loop without the
//     check build raw wazero runtimes, never an Engine). A timed-out,
//     trapped or exited instance is closed and never reused. wazero does not
//     interrupt host functions, so the host work a guest causes watches the
//     deadline itself: closing a file the guest wrote hashes it for the audit
//     within the current call's context, and, when an instance is closed
//     outside a call with files open, within one call's timeout.
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
// (the process plugins' planned framing, docs/architecture.md) over a socketpair; the worker
// holds no tokens (the host presents the instance's own on its side), and
// the gate, the ledger and the policy stay in the host, so nothing of the
// mediation moves into the worker. The worker also runs under
// the process sandbox (Landlock, seccomp, no network), putting the OS sandbox
// around the WASM one. Costs to pay down: one IPC round trip per host call
// (P1 would need shared-memory rings to stay near 2 us) and a warm pool of
// workers so that a cold start does not pay a fork and a compile-cache load.
// Until then the check stays on: a plugin must never hold a core forever.
// When the worker exists, running without the check will be that engine's
// design (the kill is its deadline), not a switch on this one.
//
// # Configuration
//
// Config, InstanceConfig, PoolConfig and Limits follow warden's one rule
// for configuration (docs/architecture.md, "Configuration"): the zero value
// is the confined one or cannot be built. The zero Config is NewConfig; zero
// Limits fields are the defaults, never "unlimited"; InstanceConfig and
// PoolConfig without a gate are refused, naming the field.
//
// # The compilation cache
//
// The cache holds native code that runs in the host, and wazero guards its
// own entries only with a CRC-32C that anyone can recompute: whoever could
// write wazero's cache directory could run code inside warden (issue 10: a
// plugin did so through a rename trick). So the engine never lets wazero
// read a file. It puts its own file cache in the place of wazero's (cache.go):
//
//   - every entry is sealed when written: HMAC-SHA256, under the home's
//     cache secret ([Config.WithCacheKey]; a host reads it with
//     hostkey.CacheSecret), over a domain string, the module's SHA-256,
//     wazero's name for the entry (which also covers CPU features and the
//     deadline check) and the compiled bytes;
//   - on a lookup the entry is read into memory, checked (regular file,
//     owned by this user, private, warden's header, this key, this module,
//     the MAC), and only then handed to wazero, from memory; a refused entry
//     is removed, reported ([Config.WithCacheRejectHandler], which the host
//     turns into a cache.reject audit event) and the module is compiled
//     afresh, so a forgery is never loaded and never fatal;
//   - a cache directory without a key is refused at [NewEngine]
//     ([ErrNoCacheKey]), and the ownership and mode checks of the directory
//     stay ([home.ErrUnsafe]).
//
// Entries are named by the module's digest, so the engine reads and checks
// the entry for the digest [Engine.Compile] is given while wazero decodes
// the module; it is used only if the bytes have that digest. Compiles on an
// engine with a cache run one at a time, so that the cache knows which
// module each of wazero's lookups is for; a lookup outside a compile gets
// nothing.
//
// Why not a scratch directory: the other design keeps sealed entries in the
// cache and, before each compile, writes the checked bytes into a private
// directory for wazero's own file cache to read. wazero would then open by
// path a file that was checked a moment before, and anyone who can write
// there can swap it in between; and every cold start writes its native code
// twice. Handing wazero verified bytes in memory leaves no such window.
// The cost is that wazero has no public API for a file cache: the engine
// sets the unexported field of wazero's cache that holds one (wazero
// v1.12.0, cache.go), checking its name, its interface and that it is still
// empty. If a wazero upgrade changes that structure, [NewEngine] fails with
// a cache directory (never falling back to wazero's unauthenticated cache)
// and TestCacheHookFitsWazero says where to look.
//
// The secret is a random 32-byte file in the home's keyring, not derived
// from the host key: the host key rotates (every entry would then look
// tampered with), may be passphrase-protected or held where its private
// bytes cannot be read, and a key with one use needs no separation from
// signatures. Its protection is the host key's: a plugin that can read
// <home>/keys has already won, which the gate's protection of the home is
// there to prevent.
//
// What it costs, in CPU time on a 2-core VM shared with other builds
// (cpu-ns/op; wall time there swings with other people's load). The hello
// example's entry is 15.5 MB: HMAC-SHA256 over it takes 9.9 ms (1.56 GB/s,
// SHA-NI), reading and checking it 13.8 ms (BenchmarkCacheEntry). A cold
// start from the cache (host's BenchmarkColdStartFromCache beside
// BenchmarkColdStartRawWazero, medians of six alternating runs of the old
// and new binaries) went from 154 ms to 169 ms, against 135-139 ms for raw
// wazero with its own unauthenticated cache: from 1.11x to 1.25x. The read
// and the MAC run beside wazero's decoding, on the other core, so the added
// latency on an idle machine is smaller than the added CPU time. GMAC
// (AES-GCM over the entry as additional data) measured about four times
// cheaper than HMAC-SHA256 here; it was not chosen because it needs a
// unique nonce per entry written, a failure mode HMAC does not have.
package wasm
