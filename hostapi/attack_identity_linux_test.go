package hostapi

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/wardenproject/warden/internal/testenv"
)

// TestIdentityBindMount: a bind mount shows the same directory (same
// device and inode) under another name, so warden's home mounted inside
// the granted folder is refused like a moved one. Mounting needs
// CAP_SYS_ADMIN; without it the test says so and skips.
func TestIdentityBindMount(t *testing.T) {
	s := newIdentityEnv(t)
	mnt := s.p("mnt")
	must(t, os.Mkdir(mnt, 0o755))
	if err := syscall.Mount(s.home, mnt, "", syscall.MS_BIND, ""); err != nil {
		testenv.Need(t, "permission to bind-mount (CAP_SYS_ADMIN)", fmt.Errorf("%w (TestIdentityMovedByAnotherProcess proves the same identity check)", err))
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	for _, p := range []string{filepath.Join(mnt, "keys", "host.key"), filepath.Join(mnt, "policy.yaml")} {
		_, err := s.call("fs.read", map[string]any{"path": p})
		s.wantProtected(t, "fs.read", err, "under another name")
		_, err = s.call("fs.write", map[string]any{"path": p, "data": "eA=="})
		s.wantProtected(t, "fs.write", err, "under another name")
	}
	s.unchanged(t)
}
