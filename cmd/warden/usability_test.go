package main

import (
	"strings"
	"testing"
)

// Mistakes in the command line exit 2 and say which command was wrong and
// how it is used; a group given an unknown subcommand is one of them.
func TestCommandLineMistakes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"policy", "check"},
			[]string{"warden: policy check: accepts 1 arg(s), received 0", "hint: usage: warden policy check FILE", "'warden policy check --help'"}},
		{[]string{"grant", "p", "filesystem:/tmp"},
			[]string{"warden: grant: accepts 3 arg(s), received 2", "hint: usage: warden grant PLUGIN RESOURCE ACTIONS"}},
		{[]string{"policy", "chek", "x.yaml"},
			[]string{`unknown command "chek" for "warden policy"`, "hint: run 'warden policy --help' for usage"}},
		{[]string{"audit", "tial"},
			[]string{`unknown command "tial" for "warden audit"`, "hint: run 'warden audit --help'"}},
		{[]string{"policy", "explain", "--plugin", "p"},
			[]string{`required flag(s) "action", "resource" not set`, "hint: run 'warden policy explain --help'"}},
		{[]string{"list", "--bogus"},
			[]string{"unknown flag: --bogus", "hint: run 'warden list --help'"}},
	} {
		code, out, errOut := runCLI(t, t.TempDir(), c.args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and nothing on stdout", c.args, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, errOut)
			}
		}
	}
	// A group alone still shows its help and succeeds.
	if code, out, _ := runCLI(t, t.TempDir(), "policy"); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Errorf("warden policy: exit %d\n%s", code, out)
	}
}
