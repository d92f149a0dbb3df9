package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRiskCommand(t *testing.T) {
	code, out, errOut := runCLI(t, t.TempDir(), "risk", "../../examples/sheet-gen")
	if code != 0 || !strings.Contains(out, "risk 13/100 (low)") || !strings.Contains(out, "[permissions[0]]") {
		t.Fatalf("risk: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, t.TempDir(), "risk", "--json", writePlugin(t, manifestWith("net:https://*", `"get"`)))
	var s struct {
		File    string
		Value   int
		Band    string
		Reasons []struct {
			Points int
			What   string
			Path   string
		}
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 {
		t.Fatalf("risk --json: exit %d %v\n%s", code, err, out)
	}
	sum := 0
	for _, r := range s.Reasons {
		sum += r.Points
	}
	if s.Value != 40 || sum != s.Value || s.Band != "medium" || !strings.HasSuffix(s.File, "manifest.json") {
		t.Fatalf("risk --json: %+v", s)
	}
	if code, _, errOut := runCLI(t, t.TempDir(), "risk", writePlugin(t, `{"name": 1}`)); code != 1 || !strings.Contains(errOut, "warden lint") {
		t.Fatalf("risk of an invalid manifest: exit %d %s", code, errOut)
	}
}
