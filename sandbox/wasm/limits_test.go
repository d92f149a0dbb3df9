package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/hostapi"
)

// call invokes tool on either guest: the Go guest takes JSON {"n":n}, the WAT
// guest dispatches on the first letter and takes no input.
func call(inst *Instance, g guestKind, goTool string, n int, watTool string) ([]byte, error) {
	if g.name == "go" {
		return inst.Invoke(context.Background(), goTool, []byte(fmt.Sprintf(`{"n":%d}`, n)))
	}
	return inst.Invoke(context.Background(), watTool, nil)
}

// Attack: an infinite loop is stopped at the deadline, its instance is
// discarded, and the pool and engine keep serving.
func TestInfiniteLoop(t *testing.T) {
	for _, g := range bothGuests {
		t.Run(g.name, func(t *testing.T) {
			p, err := compile(t, g.wasm(t)).NewPool(PoolConfig{Instance: InstanceConfig{Gate: newTestGate(nil), Limits: Limits{Timeout: 300 * time.Millisecond}}, Size: 2})
			must(t, err)
			defer p.Close(context.Background())
			tool := "loop"
			if g.name == "wat" {
				tool = "l"
			}
			start := time.Now()
			_, err = p.Invoke(context.Background(), tool, []byte(`{}`))
			if hostapi.CodeOf(err) != hostapi.CodeTimeout {
				t.Fatalf("got %v, want a timeout", err)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatal("the loop ran far past its deadline")
			}
			out, err := p.Invoke(context.Background(), "echo", []byte(`"still serving"`))
			if err != nil || string(out) != `"still serving"` {
				t.Fatalf("after the timeout: %s %v", out, err)
			}
			if st := p.Stats(); st.Discarded != 1 || st.Created != 2 {
				t.Fatalf("stats %+v: the timed-out instance must be discarded and replaced", st)
			}
		})
	}
}

// The caller's own deadline, shorter than the limit, also stops the guest.
func TestCallerDeadline(t *testing.T) {
	inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := inst.Invoke(ctx, "loop", []byte(`{}`))
	if hostapi.CodeOf(err) != hostapi.CodeTimeout || inst.Healthy() {
		t.Fatalf("got %v (healthy %v)", err, inst.Healthy())
	}
	if _, err := inst.Invoke(context.Background(), "echo", []byte(`1`)); hostapi.CodeOf(err) != hostapi.CodeUnavailable {
		t.Fatalf("a stopped instance answered: %v", err)
	}
}

// Attack: memory growth past the limit.
func TestMemoryLimit(t *testing.T) {
	t.Run("go", func(t *testing.T) {
		inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{Limits: Limits{MemoryMB: 64, Timeout: limitNotDeadline}})
		_, err := inst.Invoke(context.Background(), "alloc", []byte(`{"n":200}`))
		var te *TrapError
		if !errors.As(err, &te) {
			t.Fatalf("got %v, want the guest to die of out-of-memory", err)
		}
		small := instantiate(t, compile(t, goGuest(t)), InstanceConfig{Limits: Limits{MemoryMB: 64}})
		if out, err := small.Invoke(context.Background(), "alloc", []byte(`{"n":8}`)); err != nil || string(out) != "8" {
			t.Fatalf("an allocation within the limit failed: %s %v", out, err)
		}
	})
	t.Run("wat", func(t *testing.T) {
		inst := instantiate(t, compile(t, watGuest(t)), InstanceConfig{Limits: Limits{MemoryMB: 16}})
		out, err := inst.Invoke(context.Background(), "g", nil)
		if err != nil || string(out) != `"refused"` {
			t.Fatalf("memory.grow to 4 GiB: %s %v", out, err)
		}
	})
}

// Attack: a result flood is refused by size, before the host copies it.
func TestResultFlood(t *testing.T) {
	for _, g := range bothGuests {
		t.Run(g.name, func(t *testing.T) {
			inst := instantiate(t, compile(t, g.wasm(t)), InstanceConfig{Limits: Limits{MaxOutputBytes: 64 << 10}})
			_, err := call(inst, g, "result_flood", 1<<20, "f")
			if hostapi.CodeOf(err) != hostapi.CodeTooLarge {
				t.Fatalf("got %v, want too_large", err)
			}
		})
	}
	inst := instantiate(t, compile(t, watGuest(t)), InstanceConfig{})
	if _, err := inst.Invoke(context.Background(), "b", nil); !errors.Is(err, ErrTrap) {
		t.Fatalf("result pointer outside memory: %v", err)
	}
	big := make([]byte, DefaultMaxInputBytes+1)
	inst = instantiate(t, compile(t, watGuest(t)), InstanceConfig{})
	if _, err := inst.Invoke(context.Background(), "e", big); hostapi.CodeOf(err) != hostapi.CodeTooLarge {
		t.Fatalf("input flood: %v", err)
	}
}

// limitNotDeadline is the per-call timeout of attacks that must end at a
// limit (memory, stack, a trap), not at the deadline: long enough that a
// loaded 2-core machine never turns the trap into a timeout (the default
// 5 s did, issue 10), and never reached by a passing run.
const limitNotDeadline = 10 * time.Minute

// Attack: unbounded recursion, and traps of every kind.
func TestTraps(t *testing.T) {
	for _, tc := range []struct {
		g     guestKind
		tool  string
		input string
	}{
		{bothGuests[0], "recurse", `{"n":100000000}`},
		{bothGuests[0], "exit", `{"n":3}`},
		{bothGuests[1], "r", ``},
		{bothGuests[1], "u", ``},
	} {
		t.Run(tc.g.name+"/"+tc.tool, func(t *testing.T) {
			inst := instantiate(t, compile(t, tc.g.wasm(t)), InstanceConfig{Limits: Limits{Timeout: limitNotDeadline}})
			_, err := inst.Invoke(context.Background(), tc.tool, []byte(tc.input))
			if !errors.Is(err, ErrTrap) {
				t.Fatalf("got %v, want a trap", err)
			}
			if inst.Healthy() {
				t.Fatal("a trapped instance must be discarded")
			}
		})
	}
}

func TestPoolConcurrency(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]bool{}
	n := 0
	p, err := compile(t, goGuest(t)).NewPool(PoolConfig{
		Instance: InstanceConfig{Gate: newTestGate(nil)},
		NewCaller: func(context.Context) (hostapi.Caller, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			id := fmt.Sprintf("inst-%d", n)
			ids[id] = true
			return hostapi.Caller{Plugin: "test", Instance: id}, nil
		},
		Size: 3,
	})
	must(t, err)
	defer p.Close(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := fmt.Sprintf(`{"i":%d}`, i)
			out, err := p.Invoke(context.Background(), "echo", []byte(in))
			if err == nil && string(out) != in {
				err = fmt.Errorf("echo %s = %s", in, out)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := p.Stats(); st.Created > 3 || st.Idle > 3 {
		t.Fatalf("pool exceeded its size: %+v", st)
	}
	if len(ids) > 3 {
		t.Fatalf("%d identities minted for at most 3 instances", len(ids))
	}
}
