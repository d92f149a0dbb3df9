package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wardenproject/warden/internal/cpumeter"
)

// BenchmarkInvoke is a warm tool call through the whole host: lookup, input
// schema, pooled instance, the guest, the invocation's audit event and its
// fsync (the durability boundary).
func BenchmarkInvoke(b *testing.B) {
	h := newTestHost(b, Config{})
	ctx := context.Background()
	_, err := h.Install(ctx, helloDir(b), InstallOptions{})
	must(b, err)
	in := json.RawMessage(`{"name":"Ada"}`)
	_, err = h.Invoke(ctx, "hello", "greet", in)
	must(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpumeter.Start(b)()
	for b.Loop() {
		if _, err := h.Invoke(ctx, "hello", "greet", in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInvokeParallel is BenchmarkInvoke from many goroutines, where
// concurrent invocations share their fsyncs (group commit).
func BenchmarkInvokeParallel(b *testing.B) {
	h := newTestHost(b, Config{PoolSize: 8})
	ctx := context.Background()
	_, err := h.Install(ctx, helloDir(b), InstallOptions{})
	must(b, err)
	in := json.RawMessage(`{"name":"Ada"}`)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	defer cpumeter.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Invoke(ctx, "hello", "greet", in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkColdStartFromCache is the first call of a plugin the host has not
// loaded, with its native code in the compilation cache: read and hash the
// entry, load it from the cache, instantiate (the Go runtime's _initialize),
// mint the instance's tokens, call.
func BenchmarkColdStartFromCache(b *testing.B) {
	h := newTestHost(b, Config{})
	ctx := context.Background()
	_, err := h.Install(ctx, helloDir(b), InstallOptions{}) // compiles into the cache
	must(b, err)
	in := json.RawMessage(`{"name":"Ada"}`)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpumeter.Start(b)()
	for b.Loop() {
		h.evict(ctx, "hello")
		if _, err := h.Invoke(ctx, "hello", "greet", in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdStartRawWazero is the floor for BenchmarkColdStartFromCache:
// plain wazero, the same module and a warm compilation cache of its own,
// compiling (a cache hit) and instantiating with _initialize, with do-nothing
// stand-ins for warden's imports and no call.
func BenchmarkColdStartRawWazero(b *testing.B) {
	ctx := context.Background()
	wasmBytes, err := os.ReadFile(guestWasm(b, helloSrc))
	must(b, err)
	cache, err := wazero.NewCompilationCacheWithDir(b.TempDir())
	must(b, err)
	defer cache.Close(ctx)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true))
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	i32 := api.ValueTypeI32
	nop := api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) { stack[0] = 0 })
	_, err = r.NewHostModuleBuilder("warden").
		NewFunctionBuilder().WithGoModuleFunction(nop, []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}).Export("call").
		NewFunctionBuilder().WithGoModuleFunction(nop, []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("result").
		Instantiate(ctx)
	must(b, err)
	cm, err := r.CompileModule(ctx, wasmBytes) // fill the cache
	must(b, err)
	must(b, cm.Close(ctx))
	b.ReportAllocs()
	b.ResetTimer()
	defer cpumeter.Start(b)()
	for b.Loop() {
		cm, err := r.CompileModule(ctx, wasmBytes)
		if err != nil {
			b.Fatal(err)
		}
		mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
		if err != nil {
			b.Fatal(err)
		}
		mod.Close(ctx)
		cm.Close(ctx)
	}
}

// BenchmarkDurableFloor is the floor of BenchmarkInvoke's latency: append
// 512 bytes to a file beside the host's ledger and wait for it to be on disk,
// the one fsync an invocation must pay (P2: "one fsync + 20 µs").
func BenchmarkDurableFloor(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	must(b, err)
	defer f.Close()
	rec := make([]byte, 512)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpumeter.Start(b)()
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
