package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wardenproject/warden/host"
)

// A desktop app embeds warden: open a host on a state directory, install a
// plugin from its directory, and call a tool. The result comes back with the
// indexes of the audit events the call produced, already durable.
func ExampleHost_Invoke() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "warden-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	// Build examples/hello into a plugin directory (warden run does this).
	plugin := filepath.Join(tmp, "hello")
	if err := os.MkdirAll(plugin, 0o755); err != nil {
		log.Fatal(err)
	}
	if _, err := host.Build(ctx, "../examples/hello", host.BuildOptions{Output: filepath.Join(plugin, "plugin.wasm")}); err != nil {
		log.Fatal(err)
	}
	man, err := os.ReadFile("../examples/hello/manifest.json")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plugin, "manifest.json"), man, 0o644); err != nil {
		log.Fatal(err)
	}

	h, err := host.New(ctx, host.Config{Home: filepath.Join(tmp, "home")})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Install(ctx, plugin, host.InstallOptions{}); err != nil {
		log.Fatal(err)
	}
	res, err := h.Invoke(ctx, "hello", "greet", json.RawMessage(`{"name":"Ada"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(res.Output))
	last, _ := h.Ledger().Get(res.Events[len(res.Events)-1])
	fmt.Println(last.Event.Action, last.Event.Resource, last.Event.Outcome)
	// Output:
	// {"message":"Hello, Ada!"}
	// tool.invoke plugin:hello#greet ok
}
