package wasm

// Benchmarks, each beside its floor in the same run (BENCHMARKS.md):
//
//	go test -run '^$' -bench . -benchmem -count 3 ./sandbox/wasm
//
// The floors run the same guest on a bare wazero runtime whose "warden"
// imports do nothing, so the ratio isolates what warden adds.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/internal/cpumeter"
)

// rawRuntime is the floor: WASI and a "warden" module whose functions return
// 0 at once.
func rawRuntime(b *testing.B, closeOnDone bool) wazero.Runtime {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	nop := api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) { stack[0] = 0 })
	_, err := r.NewHostModuleBuilder("warden").
		NewFunctionBuilder().WithGoModuleFunction(nop, hostSignatures["call"][0], hostSignatures["call"][1]).Export("call").
		NewFunctionBuilder().WithGoModuleFunction(nop, hostSignatures["result"][0], hostSignatures["result"][1]).Export("result").
		Instantiate(ctx)
	must(b, err)
	b.Cleanup(func() { r.Close(ctx) })
	return r
}

func rawModuleConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").WithSysWalltime().WithSysNanotime()
}

// rawInvoke calls a tool on a bare instance over the same export convention.
func rawInvoke(ctx context.Context, mod api.Module, stack []uint64, tool string, input []byte) ([]byte, error) {
	stack[0] = uint64(len(tool) + len(input))
	if err := mod.ExportedFunction("warden_alloc").CallWithStack(ctx, stack); err != nil {
		return nil, err
	}
	ptr := uint32(stack[0])
	mod.Memory().Write(ptr, []byte(tool))
	mod.Memory().Write(ptr+uint32(len(tool)), input)
	stack[0], stack[1], stack[2], stack[3] = uint64(ptr), uint64(len(tool)), uint64(ptr)+uint64(len(tool)), uint64(len(input))
	if err := mod.ExportedFunction("warden_call").CallWithStack(ctx, stack); err != nil {
		return nil, err
	}
	env, _ := mod.Memory().Read(uint32(stack[0]>>32), uint32(stack[0]))
	return bytes.Clone(env), nil
}

// P1: an audited, token-checked host call from a guest, beside the same
// guest loop crossing a warden import that does nothing (BENCHMARKS.md P1:
// at most 2 µs of CPU added). "warden/real-gate/..." is what the host runs:
// the guest's warden.call → hostapi.Gate with a real capability verifier and
// the caller's real token, a real policy engine whose rule allows the call,
// the budget, the provider (a real fs.stat of a file on disk; log.write to a
// text slog handler) → an event in a real audit ledger on disk. Each op is
// one host call, and the timing ends with a Flush, so the ledger's writer
// has made every event durable inside it: cpu-ns/op (internal/cpumeter) is
// all the CPU the process spent per call, the writer's included. The floor
// runs the same call_loop tool with the same method and params on a bare
// wazero runtime. "warden/test-gate/..." is the old measure with a gate that
// answers bench.nop (no token, policy or ledger), kept as the lower bound of
// the sandbox's own share.
func BenchmarkHostCall(b *testing.B) {
	ctx := context.Background()
	wasm := goGuest(b)
	dir, err := filepath.EvalSymlinks(b.TempDir())
	must(b, err)
	file := filepath.Join(dir, "a.txt")
	must(b, os.WriteFile(file, []byte("a,b\n1,2\n"), 0o644))
	for _, c := range []struct{ method, params string }{
		{"fs.stat", fmt.Sprintf(`{"path":%q}`, file)},
		{"log.write", `{"level":"info","message":"one line of the benchmark"}`},
	} {
		loop := func(n int) []byte {
			return fmt.Appendf(nil, `{"n":%d,"method":%q,"params":%s}`, n, c.method, c.params)
		}
		b.Run("floor=raw-import/"+c.method, func(b *testing.B) {
			r := rawRuntime(b, true)
			cm, err := r.CompileModule(ctx, wasm)
			must(b, err)
			mod, err := r.InstantiateModule(ctx, cm, rawModuleConfig())
			must(b, err)
			stack := make([]uint64, 4)
			if _, err := rawInvoke(ctx, mod, stack, "call_loop", loop(1000)); err != nil { // warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			stop := cpumeter.Start(b)
			if _, err := rawInvoke(ctx, mod, stack, "call_loop", loop(b.N)); err != nil {
				b.Fatal(err)
			}
			stop()
		})
		b.Run("warden/real-gate/"+c.method, func(b *testing.B) {
			g, cl := realGateWith(b, dir, func(cfg *hostapi.Config) {
				cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			}, "read", "list")
			inst := instantiate(b, compile(b, wasm), InstanceConfig{Gate: g, Caller: cl, Limits: Limits{Timeout: time.Hour}})
			// One invocation makes b.N calls: a budget that holds them,
			// still drawn on by every call as the host's default one is.
			budget := g.NewBudget(cl, hostapi.Quota{Events: math.MaxInt64 / 2, LogBytes: math.MaxInt64 / 2}, nil)
			run := func(n int) {
				out, err := inst.Invoke(hostapi.WithBudget(ctx, budget), "call_loop", loop(n))
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Contains(out, []byte(`{\"result\":`)) {
					b.Fatalf("%s through the real gate did not succeed: %s", c.method, out)
				}
				must(b, g.Flush(ctx))
			}
			run(1000) // warm: the token cache, the ledger's files, the provider
			b.ReportAllocs()
			b.ResetTimer()
			stop := cpumeter.Start(b)
			run(b.N)
			stop()
		})
	}
	b.Run("floor=raw-import/nop_loop", func(b *testing.B) {
		r := rawRuntime(b, true)
		cm, err := r.CompileModule(ctx, wasm)
		must(b, err)
		mod, err := r.InstantiateModule(ctx, cm, rawModuleConfig())
		must(b, err)
		stack := make([]uint64, 4)
		b.ReportAllocs()
		b.ResetTimer()
		stop := cpumeter.Start(b)
		if _, err := rawInvoke(ctx, mod, stack, "nop_loop", []byte(fmt.Sprintf(`{"n":%d}`, b.N))); err != nil {
			b.Fatal(err)
		}
		stop()
	})
	for _, tool := range []string{"nop_loop", "pdk_loop"} {
		b.Run("warden/test-gate/"+tool, func(b *testing.B) {
			inst := instantiate(b, compile(b, wasm), InstanceConfig{Gate: newTestGate(nil), Caller: caller("t"), Limits: Limits{Timeout: time.Minute}})
			b.ReportAllocs()
			b.ResetTimer()
			stop := cpumeter.Start(b)
			if _, err := inst.Invoke(ctx, tool, []byte(fmt.Sprintf(`{"n":%d}`, b.N))); err != nil {
				b.Fatal(err)
			}
			stop()
		})
	}
}

// P2: a warm 256-byte echo, beside Extism calling an equivalent export and
// beside the bare export.
func BenchmarkInvokeEcho256(b *testing.B) {
	ctx := context.Background()
	input := []byte(`"` + strings.Repeat("a", 254) + `"`)
	b.Run("warden", func(b *testing.B) {
		inst := instantiate(b, compile(b, goGuest(b)), InstanceConfig{Gate: newTestGate(nil)})
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := inst.Invoke(ctx, "echo", input); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, closeOnDone := range []bool{true, false} {
		b.Run(fmt.Sprintf("floor=raw-export/close-on-done=%v", closeOnDone), func(b *testing.B) {
			r := rawRuntime(b, closeOnDone)
			cm, err := r.CompileModule(ctx, goGuest(b))
			must(b, err)
			mod, err := r.InstantiateModule(ctx, cm, rawModuleConfig())
			must(b, err)
			stack := make([]uint64, 4)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := rawInvoke(ctx, mod, stack, "echo", input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("peer=extism", func(b *testing.B) {
		wasm := buildGoGuest(b, "testdata/extism")
		cp, err := extism.NewCompiledPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
			extism.PluginConfig{EnableWasi: true}, nil)
		must(b, err)
		p, err := cp.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: wazero.NewModuleConfig().WithStartFunctions("_initialize")})
		must(b, err)
		defer p.Close(ctx)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			_, out, err := p.Call("echo", input)
			if err != nil || len(out) != len(input) {
				b.Fatal(err, len(out))
			}
		}
	})
}

// P3: cold start. "instantiate" is a compiled module becoming a ready
// instance (_initialize included); "from-cache" adds a new engine and a
// compile served by the on-disk cache; "from-nothing" compiles from scratch.
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	wasm := goGuest(b)
	sum := sha256.Sum256(wasm)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	b.Run("floor=raw-instantiate", func(b *testing.B) {
		r := rawRuntime(b, true)
		cm, err := r.CompileModule(ctx, wasm)
		must(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			mod, err := r.InstantiateModule(ctx, cm, rawModuleConfig())
			must(b, err)
			mod.Close(ctx)
		}
	})
	b.Run("warden/instantiate", func(b *testing.B) {
		m := compile(b, wasm)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			inst, err := m.Instantiate(ctx, InstanceConfig{Gate: newTestGate(nil)})
			must(b, err)
			inst.Close(ctx)
		}
	})
	cacheDir := filepath.Join(b.TempDir(), "cache")
	must(b, os.Mkdir(cacheDir, 0o700))
	warm, err := NewEngine(ctx, cacheConfig(cacheDir))
	must(b, err)
	_, err = warm.Compile(ctx, wasm, digest)
	must(b, err)
	warm.Close(ctx)
	b.Run("warden/from-cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := NewEngine(ctx, cacheConfig(cacheDir))
			must(b, err)
			m, err := e.Compile(ctx, wasm, digest)
			must(b, err)
			inst, err := m.Instantiate(ctx, InstanceConfig{Gate: newTestGate(nil)})
			must(b, err)
			inst.Close(ctx)
			e.Close(ctx)
		}
	})
	b.Run("warden/from-nothing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := NewEngine(ctx, NewConfig())
			must(b, err)
			m, err := e.Compile(ctx, wasm, digest)
			must(b, err)
			inst, err := m.Instantiate(ctx, InstanceConfig{Gate: newTestGate(nil)})
			must(b, err)
			inst.Close(ctx)
			e.Close(ctx)
		}
	})
}

// P5: reading one 16 MiB file with os.Read in 64 KiB chunks, through the
// capability filesystem, beside wazero's plain directory mount; warden/gate
// with the host's gate, warden/capfs with this package's test gate. Compare
// cpu-ns/op: on a shared machine wall time swings with others' load.
func BenchmarkFSRead(b *testing.B) {
	ctx := context.Background()
	dir, err := filepath.EvalSymlinks(b.TempDir())
	must(b, err)
	const size = 16 << 20
	file := filepath.Join(dir, "big.bin")
	must(b, os.WriteFile(file, bytes.Repeat([]byte{7}, size), 0o600))
	input := []byte(fmt.Sprintf(`{"path":%q}`, file))
	b.Run("floor=dirmount", func(b *testing.B) {
		r := rawRuntime(b, true)
		cm, err := r.CompileModule(ctx, goGuest(b))
		must(b, err)
		mod, err := r.InstantiateModule(ctx, cm, rawModuleConfig().WithFSConfig(wazero.NewFSConfig().WithDirMount(dir, dir)))
		must(b, err)
		stack := make([]uint64, 4)
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		defer cpumeter.Start(b)()
		for b.Loop() {
			out, err := rawInvoke(ctx, mod, stack, "readlen", input)
			if err != nil || string(out) != fmt.Sprintf(`{"result":%d}`, size) {
				b.Fatal(string(out), err)
			}
		}
	})
	// The host's gate: each open is checked and audited, each read re-checks
	// its authorisation (hostapi.File).
	b.Run("warden/gate", func(b *testing.B) {
		g, c := realGate(b, dir, "read")
		inst := instantiate(b, compile(b, goGuest(b)), InstanceConfig{Gate: g, Caller: c})
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		defer cpumeter.Start(b)()
		for b.Loop() {
			out, err := inst.Invoke(ctx, "readlen", input)
			if err != nil || string(out) != fmt.Sprint(size) {
				b.Fatal(string(out), err)
			}
		}
	})
	b.Run("warden/capfs", func(b *testing.B) {
		g := newTestGate(map[string]testGrant{"t": {dir: dir, actions: "read"}})
		inst := instantiate(b, compile(b, goGuest(b)), InstanceConfig{Gate: g, Caller: caller("t")})
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		defer cpumeter.Start(b)()
		for b.Loop() {
			out, err := inst.Invoke(ctx, "readlen", input)
			if err != nil || string(out) != fmt.Sprint(size) {
				b.Fatal(string(out), err)
			}
		}
	})
}

// P3 (load): 1,000 concurrent invocations on one pool. Reports errors (must
// be 0), invocations per second and the heap in use after the burst.
func BenchmarkConcurrent1000(b *testing.B) {
	ctx := context.Background()
	p, err := compile(b, goGuest(b)).NewPool(PoolConfig{Instance: InstanceConfig{Gate: newTestGate(nil)}, Size: 2 * runtime.GOMAXPROCS(0)})
	must(b, err)
	defer p.Close(ctx)
	input := []byte(`"` + strings.Repeat("a", 254) + `"`)
	var errs atomic.Int64
	var peak uint64
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		var wg sync.WaitGroup
		for range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := p.Invoke(ctx, "echo", input); err != nil {
					errs.Add(1)
				}
			}()
		}
		wg.Wait()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(errs.Load()), "errors")
	b.ReportMetric(float64(b.N*1000)/elapsed.Seconds(), "invocations/s")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
	if errs.Load() != 0 {
		b.Fatalf("%d invocations failed", errs.Load())
	}
}

// P8: a 1M-iteration FNV loop under warden's enforced deadline, beside the
// same guest on a runtime without WithCloseOnContextDone.
func BenchmarkCPULoop(b *testing.B) {
	ctx := context.Background()
	input := []byte(`{"n":1000000}`)
	b.Run("floor=no-close-on-done", func(b *testing.B) {
		r := rawRuntime(b, false)
		cm, err := r.CompileModule(ctx, goGuest(b))
		must(b, err)
		mod, err := r.InstantiateModule(ctx, cm, rawModuleConfig())
		must(b, err)
		stack := make([]uint64, 4)
		b.ReportAllocs()
		defer cpumeter.Start(b)()
		for b.Loop() {
			if _, err := rawInvoke(ctx, mod, stack, "fnv", input); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warden/close-on-done", func(b *testing.B) {
		inst := instantiate(b, compile(b, goGuest(b)), InstanceConfig{Gate: newTestGate(nil)})
		b.ReportAllocs()
		defer cpumeter.Start(b)()
		for b.Loop() {
			if _, err := inst.Invoke(ctx, "fnv", input); err != nil {
				b.Fatal(err)
			}
		}
	})
}
