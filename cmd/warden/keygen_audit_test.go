package main

import (
	"strings"
	"testing"
)

// Creating and rotating the host key are audit events, each logged once.
func TestKeygenIsAudited(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{{"keygen"}, {"keygen"}, {"keygen", "--rotate"}} {
		if code, _, errOut := runCLI(t, home, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	_, out, _ := runCLI(t, home, "audit", "tail", "-n", "10")
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			actions = append(actions, f[2])
		}
	}
	if got := strings.Join(actions, " "); got != "key.create key.rotate key.create" {
		t.Fatalf("audit trail of keygen: %q", got)
	}
}
