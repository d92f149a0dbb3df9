package wasm

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example plugins build with the stock toolchain and run in the sandbox.
func TestExampleHello(t *testing.T) {
	inst := instantiate(t, compile(t, buildGoGuest(t, "../../examples/hello")), InstanceConfig{})
	out, err := inst.Invoke(context.Background(), "greet", []byte(`{"name":"Ada"}`))
	if err != nil || string(out) != `{"message":"Hello, Ada!"}` {
		t.Fatalf("greet: %s %v", out, err)
	}
}

func TestExampleSheetGen(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	sheets := filepath.Join(base, "Documents", "Spreadsheets")
	must(t, os.MkdirAll(sheets, 0o755))
	g := newTestGate(map[string]testGrant{"tok-sheets": {dir: sheets, actions: "read,write"}})
	inst := instantiate(t, compile(t, buildGoGuest(t, "../../examples/sheet-gen")), InstanceConfig{Gate: g, Caller: caller("tok-sheets")})

	in := `{"title":"Q3 budget","columns":["month","total"],"rows":[["Jul",1200.5],["Aug",null]]}`
	out, err := inst.Invoke(context.Background(), "generate", []byte(in))
	must(t, err)
	var raw map[string]any
	must(t, json.Unmarshal(out, &raw))
	if raw["path"] != filepath.Join(sheets, "Q3 budget.csv") || raw["rows"] != 2.0 {
		t.Fatalf("output %s", out)
	}
	b, err := os.ReadFile(filepath.Join(sheets, "Q3 budget.csv"))
	if err != nil || string(b) != "month,total\nJul,1200.5\nAug,\n" {
		t.Fatalf("csv %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(sheets, "Q3 budget.summary.txt")); err != nil || !strings.Contains(string(b), "2 rows") {
		t.Fatalf("summary %q %v", b, err)
	}
	// The facade write used the narrowed capability; os.WriteFile went through
	// OpenFile. Both reached the gate.
	var sawWrite, sawOpen bool
	for _, e := range g.events {
		sawWrite = sawWrite || (e.Method == "fs.write" && e.Allowed)
		sawOpen = sawOpen || (e.Method == "fs.open" && e.Allowed && strings.HasSuffix(e.Path, ".summary.txt"))
	}
	if !sawWrite || !sawOpen {
		t.Fatalf("events %+v", g.events)
	}

	// Outside the grant, both paths are refused.
	_, err = inst.Invoke(context.Background(), "generate", []byte(`{"title":"x","rows":[],"dir":"`+base+`"}`))
	if err == nil {
		t.Fatal("sheet-gen wrote outside its grant")
	}
}
