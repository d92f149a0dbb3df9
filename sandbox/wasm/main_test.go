package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wardenproject/warden/hostapi"
)

// buildDir holds the guests built once per test binary run.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "warden-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type built struct {
	once sync.Once
	wasm []byte
	err  error
}

var builds sync.Map // source dir -> *built

// buildGoGuest builds the Go module in srcDir as a wasip1 reactor, once per
// test binary run.
func buildGoGuest(tb testing.TB, srcDir string) []byte {
	tb.Helper()
	v, _ := builds.LoadOrStore(srcDir, &built{})
	b := v.(*built)
	b.once.Do(func() {
		out := filepath.Join(buildDir, filepath.Base(srcDir)+".wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = srcDir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOFLAGS=-mod=mod")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %v\n%s", srcDir, err, msg)
			return
		}
		b.wasm, b.err = os.ReadFile(out)
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.wasm
}

func goGuest(tb testing.TB) []byte { return buildGoGuest(tb, "testdata/guest") }

// watModule returns the committed testdata/wat/NAME.wasm. The WAT guests
// are committed assembled, so that the tests that use them (several are
// attack tests) run without wat2wasm; TestCommittedWasmMatchesWAT keeps each
// .wasm the assembly of the .wat beside it.
func watModule(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wat", name+".wasm"))
	if err != nil {
		tb.Fatalf("WAT guest %s: %v (assemble it: wat2wasm testdata/wat/%s.wat -o testdata/wat/%s.wasm)", name, err, name, name)
	}
	return b
}

// watGuest is testdata/wat/guest.wat, the hand-written guest of docs/abi.md.
func watGuest(tb testing.TB) []byte { return watModule(tb, "guest") }

var (
	engOnce   sync.Once
	sharedEng *Engine
)

// testEngine is shared by the tests: one engine serving everything is also
// what proves that a trap or timeout leaves it serving.
func testEngine(tb testing.TB) *Engine {
	engOnce.Do(func() {
		e, err := NewEngine(context.Background(), cacheConfig(filepath.Join(buildDir, "cache", "wasm")))
		if err != nil {
			panic(err)
		}
		sharedEng = e
	})
	return sharedEng
}

// testCacheKey is the cache secret of every test engine that shares
// buildDir's cache; a host keeps one per home (hostkey.CacheSecret).
var testCacheKey = bytes.Repeat([]byte{0x5a}, MinCacheKeyLen)

// cacheConfig is the default Config with a cache directory and its key.
func cacheConfig(dir string) Config {
	return NewConfig().WithCacheDir(dir).WithCacheKey(testCacheKey)
}

var modules sync.Map // *[]byte -> *Module

func compile(tb testing.TB, wasm []byte) *Module {
	tb.Helper()
	key := fmt.Sprintf("%p", wasm)
	if m, ok := modules.Load(key); ok {
		return m.(*Module)
	}
	m, err := testEngine(tb).Compile(context.Background(), wasm, "")
	if err != nil {
		tb.Fatal(err)
	}
	modules.Store(key, m)
	return m
}

func caller(tokens ...string) hostapi.Caller {
	return hostapi.Caller{Plugin: "test", Version: "0.0.1", Instance: "inst-1", Tokens: tokens}
}

func instantiate(tb testing.TB, m *Module, cfg InstanceConfig) *Instance {
	tb.Helper()
	if cfg.Gate == nil {
		cfg.Gate = newTestGate(nil)
	}
	inst, err := m.Instantiate(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { inst.Close(context.Background()) })
	return inst
}

// invokeJSON invokes tool with v marshalled and unmarshals the output.
func invokeJSON(tb testing.TB, inst *Instance, tool string, v any, out any) error {
	tb.Helper()
	in, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := inst.Invoke(context.Background(), tool, in)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			tb.Fatalf("%s: output %s: %v", tool, res, err)
		}
	}
	return nil
}
