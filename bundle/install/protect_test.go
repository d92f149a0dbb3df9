package install

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/home"
)

// Attack (issue 10, finding 1): a bundle whose manifest asks for a folder
// holding warden's home (here two levels up, and through a symlink) is
// refused before the consent screen (lint WDN008 against the home it is
// installed into), even with --yes under a policy that allows unattended
// installs: no grant on warden's own state is ever made. The CLI logs the
// refused install (code "protected").
func TestInstallRefusesPermissionReachingHome(t *testing.T) {
	for _, via := range []string{"parent", "symlink"} {
		t.Run(via, func(t *testing.T) {
			base, err := filepath.EvalSymlinks(t.TempDir())
			must(t, err)
			e := newEnv(t)
			res := filepath.Dir(filepath.Dir(e.home)) // e.home is <tmp>/<test>/NNN
			if via == "symlink" {
				must(t, os.Symlink(filepath.Dir(e.home), filepath.Join(base, "lnk")))
				res = filepath.Join(base, "lnk")
			}
			b, pub := signedBundle(t, "demo", "1.0.0", []map[string]any{
				{"resource": "filesystem:" + res + "/**", "actions": []string{"read", "write", "delete"}, "reason": "Works on files."}})
			_, err = e.trust.Add(pub, "Acme", time.Time{})
			must(t, err)
			_, err = Install(ctx, b, e.config(parsePolicy(t, "version: 1\nunattended_install: true\n"), nil, true))
			if !errors.Is(err, home.ErrProtected) || !errors.Is(err, ErrSubmission) || !strings.Contains(err.Error(), "WDN008") {
				t.Fatalf("%v, want a WDN008 refusal wrapping home.ErrProtected", err)
			}
			assertEmpty(t, e)
		})
	}
}
