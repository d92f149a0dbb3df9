package wasm

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/hostapi"
)

// hangDetector is how long a test waits for a call that must end by the
// default deadline (DefaultTimeout) before it calls the call hung. It is a
// hang detector, not a timing assertion: the tests assert how a call ended,
// never how fast.
const hangDetector = 3 * time.Minute

// Attack (issue 11): an engine built from the zero Config, running an
// instance with the zero Limits, stops a guest that spins forever at the
// default deadline, with a timeout, and discards the instance. Before issue
// 11 the zero Config left wazero's close-on-done off (only NewConfig turned
// it on), and the call never returned.
func TestZeroConfigEngineStopsASpinningGuest(t *testing.T) {
	ctx := context.Background()
	eng, err := NewEngine(ctx, Config{})
	must(t, err)
	t.Cleanup(func() { eng.Close(ctx) })
	for _, g := range bothGuests {
		t.Run(g.name, func(t *testing.T) {
			m, err := eng.Compile(ctx, g.wasm(t), "")
			must(t, err)
			inst, err := m.Instantiate(ctx, InstanceConfig{Gate: newTestGate(nil)})
			must(t, err)
			t.Cleanup(func() { inst.Close(ctx) })
			done := make(chan error, 1)
			go func() {
				// No deadline on the caller's context: the instance's own,
				// the default one, is the only thing that can stop it.
				_, err := call(inst, g, "loop", 0, "l")
				done <- err
			}()
			select {
			case err := <-done:
				if hostapi.CodeOf(err) != hostapi.CodeTimeout {
					t.Fatalf("the spinning guest ended with %v, want a timeout", err)
				}
			case <-time.After(hangDetector):
				t.Fatalf("the spinning guest under the zero Config did not return within %v: the CPU deadline is off", hangDetector)
			}
			if inst.Healthy() {
				t.Fatal("the timed-out instance is still marked healthy")
			}
		})
	}
}

// Attack: under the zero Config and zero memory limit, a guest that
// allocates 200 MiB dies of out-of-memory at the default 64 MiB. The
// timeout is set only so that a loaded machine cannot turn the trap into a
// timeout.
func TestZeroConfigEngineCapsMemory(t *testing.T) {
	ctx := context.Background()
	eng, err := NewEngine(ctx, Config{})
	must(t, err)
	t.Cleanup(func() { eng.Close(ctx) })
	m, err := eng.Compile(ctx, goGuest(t), "")
	must(t, err)
	inst, err := m.Instantiate(ctx, InstanceConfig{Gate: newTestGate(nil), Limits: Limits{Timeout: limitNotDeadline}})
	must(t, err)
	t.Cleanup(func() { inst.Close(ctx) })
	_, err = inst.Invoke(ctx, "alloc", []byte(`{"n":200}`))
	var te *TrapError
	if !errors.As(err, &te) {
		t.Fatalf("200 MiB under the default memory limit: %v, want an out-of-memory trap", err)
	}
}

// The zero InstanceConfig and PoolConfig cannot be built: they have no
// gate, and the error names the field.
func TestZeroInstanceConfigRefused(t *testing.T) {
	m := compile(t, goGuest(t))
	if _, err := m.Instantiate(context.Background(), InstanceConfig{}); err == nil || !strings.Contains(err.Error(), "InstanceConfig.Gate") {
		t.Fatalf("Instantiate with the zero InstanceConfig: %v, want an error naming InstanceConfig.Gate", err)
	}
	if _, err := m.NewPool(PoolConfig{}); err == nil || !strings.Contains(err.Error(), "PoolConfig.Instance.Gate") {
		t.Fatalf("NewPool with the zero PoolConfig: %v, want an error naming PoolConfig.Instance.Gate", err)
	}
}

// The zero Limits are the defaults, and no Limits can ask for a deadline
// past MaxTimeout.
func TestZeroLimitsAreTheDefaults(t *testing.T) {
	got := Limits{}.withDefaults()
	want := Limits{MemoryMB: DefaultMemoryMB, Timeout: DefaultTimeout, MaxInputBytes: DefaultMaxInputBytes,
		MaxOutputBytes: DefaultMaxOutputBytes, MaxLogBytes: DefaultMaxLogBytes, MaxHostCallBytes: DefaultMaxHostCallBytes}
	if got != want {
		t.Fatalf("zero Limits = %+v, want %+v", got, want)
	}
	if neg := (Limits{MemoryMB: -1, Timeout: -1, MaxInputBytes: -1, MaxOutputBytes: -1, MaxLogBytes: -1, MaxHostCallBytes: -1}).withDefaults(); neg != want {
		t.Fatalf("negative Limits = %+v, want the defaults %+v", neg, want)
	}
	if l := (Limits{Timeout: 1000 * time.Hour}).withDefaults(); l.Timeout != MaxTimeout {
		t.Fatalf("a 1000 h timeout became %v, want MaxTimeout", l.Timeout)
	}
}

// Config has no switches: a boolean field is what let the zero Config turn
// the CPU deadline off (issue 11). A setting that weakens the sandbox does
// not belong in Config at all; one that strengthens it must be on when zero.
func TestConfigHasNoSwitches(t *testing.T) {
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Type.Kind() == reflect.Bool {
			t.Errorf("Config.%s is a boolean: its zero value must not weaken the engine; see the Configuration section of docs/architecture.md", f.Name)
		}
	}
}
