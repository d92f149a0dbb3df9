package wasm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/sandbox/wasm"
)

// How a host runs a plugin: one engine per process with the compilation
// cache under --home, one compiled module per plugin (checked against the
// digest its bundle was verified with), and a pool of warm instances per
// plugin, each with its own identity and tokens. gate is the host's
// *hostapi.Gate; any wasm.Gate works.
func Example() {
	ctx := context.Background()
	var gate wasm.Gate // e.g. a *hostapi.Gate from hostapi.NewGate
	home := os.Getenv("WARDEN_HOME")

	// The cache's entries are sealed with a secret of the home.
	cacheKey, err := hostkey.CacheSecret(filepath.Join(home, "keys"))
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := wasm.NewEngine(ctx, wasm.NewConfig().
		WithCacheDir(filepath.Join(home, "cache", "wasm")).
		WithCacheKey(cacheKey).
		WithCacheRejectHandler(func(r wasm.CacheRejection) {
			fmt.Fprintln(os.Stderr, "refused compilation cache entry", r.Entry+":", r.Reason) // a host audits it
		}))
	if err != nil {
		fmt.Println(err) // e.g. the cache dir is writable by others
		return
	}
	defer eng.Close(ctx)

	bin, _ := os.ReadFile("plugin.wasm")
	mod, err := eng.Compile(ctx, bin, "sha256:...the verified digest...")
	if err != nil {
		fmt.Println(err)
		return
	}
	pool, err := mod.NewPool(wasm.PoolConfig{
		Instance: wasm.InstanceConfig{
			Gate:   gate,
			Limits: wasm.Limits{MemoryMB: 64, Timeout: 5 * time.Second, MaxOutputBytes: 1 << 20},
			Log:    func(stream, line string) { fmt.Fprintln(os.Stderr, stream, line) },
		},
		NewCaller: func(ctx context.Context) (hostapi.Caller, error) {
			// Mint tokens whose audience is a fresh instance id here.
			return hostapi.Caller{Plugin: "sheet-gen", Instance: "inst-1"}, nil
		},
		Size:   4,
		MaxAge: 10 * time.Minute, // shorter than the tokens' lifetime
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close(ctx)

	out, err := pool.Invoke(ctx, "generate", []byte(`{"title":"Q3","rows":[["Jul",1]]}`))
	fmt.Println(string(out), err)
}
