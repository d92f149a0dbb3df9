package wasm

// Evidence for "The price of the deadline" in doc.go: what wazero's
// WithCloseOnContextDone costs on a tight loop, and what an epoch-style check
// (one load of a host-written global and a branch at each loop header, the
// design of Wasmtime's epoch interruption) would cost instead, on the same WAT
// loop in the same run:
//
//	go test -run 'LoopCheck' -bench 'InterruptCheck' -benchmem -count 5 ./sandbox/wasm
//
// The loop check is not what the engine runs, and doc.go says why: native
// code is not a Go preemption point, so a guest spinning between checks
// stalls every stop-the-world of the host, including the garbage collection
// that the goroutine setting the global at the deadline may be waiting on.

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/wardenproject/warden/internal/cpumeter"
)

// loopModule instantiates testdata/wat/loop.wat on a bare runtime: the FNV
// loop of the Go guest's "fnv" tool twice, plain and with the check at its
// header, and an infinite loop with the check.
func loopModule(tb testing.TB, closeOnDone bool) api.Module {
	tb.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
	tb.Cleanup(func() { r.Close(ctx) })
	mod, err := r.Instantiate(ctx, watModule(tb, "loop"))
	if err != nil {
		tb.Fatal(err)
	}
	return mod
}

// armed runs fn with the stop global set when ctx is done, the way an engine
// using loop checks would run every guest call.
func armed(ctx context.Context, stop api.MutableGlobal, fn func() error) error {
	disarm := context.AfterFunc(ctx, func() { stop.Set(1) })
	err := fn()
	disarm()
	return err
}

// The half of the loop-check design that works: a global written by the host
// from another goroutine is seen by a loop running in wazero's native code,
// without close-on-done. The collector is off for the test because the other
// half does not work: with it on, a collection that starts while the guest
// spins waits for the guest forever (native code cannot be preempted), the
// deadline's goroutine waits for the collection, and the test binary hangs.
//
// It exercises a mechanism the engine does not use, and a mistake in it hangs
// the whole test binary, so it runs only on request:
//
//	WARDEN_EXPERIMENTS=1 go test -run LoopCheck ./sandbox/wasm
func TestLoopCheckStopsInfiniteLoop(t *testing.T) {
	if os.Getenv("WARDEN_EXPERIMENTS") == "" {
		t.Skip("experiment, not the engine's mechanism; run with WARDEN_EXPERIMENTS=1")
	}
	mod := loopModule(t, false)
	stop := mod.ExportedGlobal("warden_stop").(api.MutableGlobal)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- armed(ctx, stop, func() error {
			_, err := mod.ExportedFunction("spin_checked").Call(ctx)
			return err
		})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("got %v, want the unreachable trap of the check", err)
		}
	case <-time.After(30 * time.Second):
		// Liveness, not performance: a loop that never saw the global
		// would spin here forever.
		t.Fatal("the checked loop never saw the stop global")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the loop stopped before the deadline: %v", ctx.Err())
	}
}

// P8 on a tight loop: 1M iterations, plain (the floor), under wazero's
// close-on-done with a deadline, and with the loop check armed by a deadline
// on a runtime without close-on-done.
func BenchmarkInterruptCheck(b *testing.B) {
	const n = 1_000_000
	run := func(b *testing.B, closeOnDone bool, fn string, arm bool) {
		mod := loopModule(b, closeOnDone)
		stop := mod.ExportedGlobal("warden_stop").(api.MutableGlobal)
		f := mod.ExportedFunction(fn)
		stack := make([]uint64, 1)
		b.ReportAllocs()
		defer cpumeter.Start(b)()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
			stack[0] = n
			call := func() error { return f.CallWithStack(ctx, stack) }
			var err error
			if arm {
				err = armed(ctx, stop, call)
			} else {
				err = call()
			}
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("floor=no-check", func(b *testing.B) { run(b, false, "fnv", false) })
	b.Run("close-on-done", func(b *testing.B) { run(b, true, "fnv", false) })
	b.Run("loop-check", func(b *testing.B) { run(b, false, "fnv_checked", true) })
}
