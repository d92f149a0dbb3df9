package host

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostkey"
)

// testDir holds what is built once per test binary run: the guests and one
// compilation cache shared by every test's home, so that each guest is
// compiled once (guest builds and compiles are the slow part on 2 cores).
var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "warden-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	code := m.Run()
	if attackE != nil {
		if err := attackE.h.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close the attack host:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

type builtGuest struct {
	once sync.Once
	path string
	err  error
}

var guests sync.Map // source dir -> *builtGuest

// guestWasm builds the Go guest in srcDir once and returns the .wasm path.
func guestWasm(tb testing.TB, srcDir string) string {
	tb.Helper()
	v, _ := guests.LoadOrStore(srcDir, &builtGuest{})
	g := v.(*builtGuest)
	g.once.Do(func() {
		g.path = filepath.Join(testDir, filepath.Base(srcDir)+".wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", g.path, ".")
		cmd.Dir = srcDir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off")
		if msg, err := cmd.CombinedOutput(); err != nil {
			g.err = fmt.Errorf("build %s: %v\n%s", srcDir, err, msg)
		}
	})
	if g.err != nil {
		tb.Fatal(g.err)
	}
	return g.path
}

// The guests: the hello example, and sandbox/wasm's multi-tool test guest,
// whose hostile tools the attack tests drive.
const (
	helloSrc  = "../examples/hello"
	attackSrc = "../sandbox/wasm/testdata/guest"
)

// pluginDir makes a plugin directory from a built guest and a manifest.
func pluginDir(tb testing.TB, wasmPath string, man any) string {
	tb.Helper()
	return pluginDirAt(tb, tb.TempDir(), wasmPath, man)
}

// pluginDirAt is pluginDir in a directory of the caller's choosing.
func pluginDirAt(tb testing.TB, dir, wasmPath string, man any) string {
	tb.Helper()
	must(tb, os.MkdirAll(dir, 0o755))
	data, err := os.ReadFile(wasmPath)
	must(tb, err)
	must(tb, os.WriteFile(filepath.Join(dir, "plugin.wasm"), data, 0o644))
	var mj []byte
	switch v := man.(type) {
	case string:
		mj = []byte(v)
	default:
		mj, err = json.MarshalIndent(v, "", "  ")
		must(tb, err)
	}
	must(tb, os.WriteFile(filepath.Join(dir, "manifest.json"), mj, 0o644))
	return dir
}

// helloDir is examples/hello with its entry built.
func helloDir(tb testing.TB) string {
	tb.Helper()
	man, err := os.ReadFile(filepath.Join(helloSrc, "manifest.json"))
	must(tb, err)
	return pluginDir(tb, guestWasm(tb, helloSrc), string(man))
}

// shareCacheSecret gives home the compilation cache secret every test home
// shares, since they share one cache directory: a home's own random secret
// would refuse (and report) every entry the other homes wrote.
func shareCacheSecret(tb testing.TB, home string) {
	tb.Helper()
	keys := filepath.Join(home, "keys")
	must(tb, os.MkdirAll(keys, 0o700))
	p := filepath.Join(keys, hostkey.CacheSecretFile)
	if _, err := os.Stat(p); err == nil {
		return
	}
	must(tb, os.WriteFile(p, []byte(strings.Repeat("5a", hostkey.CacheSecretLen)+"\n"), 0o600))
}

func newTestHost(tb testing.TB, cfg Config) *Host {
	tb.Helper()
	if cfg.Home == "" {
		cfg.Home = filepath.Join(tb.TempDir(), "home")
	}
	cfg.CacheDir = filepath.Join(testDir, "cache")
	shareCacheSecret(tb, cfg.Home)
	// Tests decide when the host re-reads its store (h.refresh), unless
	// they ask for a refresh interval.
	if cfg.RefreshInterval == 0 {
		cfg.manualRefresh = true
	}
	h, err := New(context.Background(), cfg)
	must(tb, err)
	tb.Cleanup(func() {
		if err := h.Close(); err != nil {
			tb.Errorf("close host: %v", err)
		}
	})
	return h
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// eventsOf reads the ledger entries at idx.
func eventsOf(tb testing.TB, h *Host, idx []uint64) []*audit.Event {
	tb.Helper()
	out := make([]*audit.Event, 0, len(idx))
	for _, i := range idx {
		e, err := h.Ledger().Get(i)
		must(tb, err)
		out = append(out, e.Event)
	}
	return out
}
