package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
)

// A tool that declares an output_schema is held to it: a result that breaks
// the declared contract is withheld with invalid_output and logged as an error.
func TestOutputSchemaEnforced(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join(helloSrc, "manifest.json"))
	must(t, err)
	for _, tc := range []struct {
		name   string
		schema string
		code   hostapi.Code
	}{
		{"matches", `{"type":"object","required":["message"],"properties":{"message":{"type":"string"}}}`, ""},
		{"breaks it", `{"type":"object","required":["greeting"]}`, CodeInvalidOutput},
		{"wrong type", `{"type":"object","properties":{"message":{"type":"integer"}}}`, CodeInvalidOutput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var man map[string]any
			must(t, json.Unmarshal(raw, &man))
			tool := man["tools"].([]any)[0].(map[string]any)
			tool["output_schema"] = json.RawMessage(tc.schema)
			h := newTestHost(t, Config{})
			_, err := h.Install(ctx, pluginDir(t, guestWasm(t, helloSrc), man), InstallOptions{})
			must(t, err)
			res, err := h.Invoke(ctx, "hello", "greet", json.RawMessage(`{"name":"Ada"}`))
			if got := hostapi.Code(""); err != nil {
				got = hostapi.CodeOf(err)
				if got != tc.code {
					t.Fatalf("got %v, want code %q", err, tc.code)
				}
			} else if tc.code != "" {
				t.Fatalf("result %s passed an output_schema it breaks", res.Output)
			}
			if tc.code == "" {
				return
			}
			if res.Output != nil {
				t.Fatalf("output %s returned despite breaking its schema", res.Output)
			}
			evs := eventsOf(t, h, res.Events)
			if last := evs[len(evs)-1]; last.Outcome != audit.OutcomeError || last.Error.Code != string(CodeInvalidOutput) {
				t.Fatalf("event %+v", last)
			}
		})
	}
}
