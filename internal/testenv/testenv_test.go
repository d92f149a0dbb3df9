package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNeedFailsUnderCI runs a child test that calls Need with a missing
// thing, once as a developer's machine and once under CI, and reads what
// `go test -v` printed for it.
func TestNeedFailsUnderCI(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Need(t, "a frobnicator", errors.New("not installed"))
		t.Fatal("Need returned for a missing thing")
	}
	for _, tc := range []struct {
		ci   string
		want string
	}{
		{"", "--- SKIP: TestNeedFailsUnderCI"},
		{"1", "--- FAIL: TestNeedFailsUnderCI"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedFailsUnderCI$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", CIVar+"="+tc.ci)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "needs a frobnicator: not installed") {
			t.Errorf("%s=%q: want %q and the reason, got:\n%s", CIVar, tc.ci, tc.want, out)
		}
	}
}

func TestNeedPassesWhenPresent(t *testing.T) {
	Need(t, "nothing", nil) // must neither skip nor fail
}
