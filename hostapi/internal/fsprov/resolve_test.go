package fsprov

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type refuseAll struct{ asked [][2]string }

var errRefused = errors.New("refused by the checker")

func (r *refuseAll) CheckResolved(requested, real string) error {
	r.asked = append(r.asked, [2]string{requested, real})
	return errRefused
}

func grantAll(t *testing.T) (string, Grant) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir, Grant{Base: dir, Match: func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }}
}

// TestCheckOnlyWhenResolvedDiffers: the checker is asked, with both paths,
// exactly when a symlink moved the target, and its refusal comes back as is
// before anything is opened.
func TestCheckOnlyWhenResolvedDiffers(t *testing.T) {
	dir, g := grantAll(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	ck := &refuseAll{}
	g.Check = ck
	if _, err := Stat(g, filepath.Join(dir, "f")); err != nil || len(ck.asked) != 0 {
		t.Fatalf("plain path: err %v, checker asked %v", err, ck.asked)
	}
	if _, err := Read(t.Context(), g, filepath.Join(dir, "l"), 0, -1, 10); !errors.Is(err, errRefused) {
		t.Fatalf("through a link: %v", err)
	}
	if len(ck.asked) != 1 || ck.asked[0] != [2]string{filepath.Join(dir, "l"), filepath.Join(dir, "f")} {
		t.Fatalf("checker asked %v", ck.asked)
	}
	// delete acts on the link itself: nothing was resolved, nothing asked.
	if err := Delete(g, filepath.Join(dir, "l"), func(string) error { return nil }); err != nil || len(ck.asked) != 1 {
		t.Fatalf("delete of the link: %v, asked %v", err, ck.asked)
	}
}

// TestNewFileLandsInTheCheckedDirectory: a directory on the way to a new
// file, swapped for a symlink between the check and the create (another
// process racing the gate), makes the create fail instead of landing where
// the link points.
func TestNewFileLandsInTheCheckedDirectory(t *testing.T) {
	dir, g := grantAll(t)
	for _, d := range []string{"ok", "denied"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []struct {
		name string
		run  func(t *target) error
	}{
		{"create", func(t *target) error {
			f, err := t.openChecked(os.O_WRONLY, 0o644)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"mkdir", func(t *target) error {
			d, name, err := t.openParent()
			if err != nil {
				return err
			}
			defer d.close()
			return d.mkdir(name, 0o755)
		}},
	} {
		t.Run(op.name, func(tt *testing.T) {
			tg, err := resolve(g, filepath.Join(dir, "ok", "new"), true)
			if err != nil {
				tt.Fatal(err)
			}
			defer tg.close()
			if tg.info != nil || tg.dir == nil {
				tt.Fatalf("target info %v dir %v", tg.info, tg.dir)
			}
			// The race: ok/ becomes a link to denied/.
			if err := os.Rename(filepath.Join(dir, "ok"), filepath.Join(dir, "ok.old")); err != nil {
				tt.Fatal(err)
			}
			if err := os.Symlink("denied", filepath.Join(dir, "ok")); err != nil {
				tt.Fatal(err)
			}
			defer func() {
				os.Remove(filepath.Join(dir, "ok"))
				os.Rename(filepath.Join(dir, "ok.old"), filepath.Join(dir, "ok"))
			}()
			if err := op.run(tg); !errors.Is(err, ErrChanged) {
				tt.Fatalf("after the swap: %v, want ErrChanged", err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "denied", "new")); err == nil {
				tt.Fatal("the new entry landed in the directory the link points to")
			}
		})
	}
}

// TestChangeActsOnTheCheckedEntry: an entry replaced (by another process)
// after the check and before the change, in the very directory that was
// checked, is not removed, moved or overwritten: the entry must still be
// the file that was checked, and a destination that was free must still be
// free (RENAME_NOREPLACE).
func TestChangeActsOnTheCheckedEntry(t *testing.T) {
	dir, g := grantAll(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	write := func(n, s string) {
		if err := os.WriteFile(p(n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// replace puts a new file at n, made while the old one still exists so
	// that it is another inode (a file system reuses a freed inode number
	// at once, and a new file under the checked name in the checked
	// directory is then the checked path anyway).
	replace := func(n, s string) func() {
		return func() {
			write(n+".tmp", s)
			if err := os.Rename(p(n+".tmp"), p(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		run  func(swap func()) error
		swap func()
		keep map[string]string // what must hold after
	}{
		{"delete", func(swap func()) error {
			return Delete(g, p("f"), func(string) error { swap(); return nil })
		}, replace("f", "other"), map[string]string{"f": "other"}},
		{"rename from", func(swap func()) error {
			return Rename(g, p("f"), g, p("g"), func(string, string) error { swap(); return nil })
		}, replace("f", "other"), map[string]string{"f": "other"}},
		{"rename over", func(swap func()) error {
			return Rename(g, p("f"), g, p("d"), func(string, string) error { swap(); return nil })
		}, replace("d", "appeared later"), map[string]string{"f": "checked", "d": "appeared later"}},
		{"rename to a free name", func(swap func()) error {
			return Rename(g, p("f"), g, p("new"), func(string, string) error { swap(); return nil })
		}, replace("new", "appeared"), map[string]string{"f": "checked", "new": "appeared"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []string{"f", "g", "d", "new"} {
				os.Remove(p(n))
			}
			write("f", "checked")
			write("d", "dest")
			err := tc.run(tc.swap)
			if !errors.Is(err, ErrChanged) && !errors.Is(err, os.ErrExist) {
				t.Fatalf("after the entry changed: %v, want ErrChanged or ErrExist", err)
			}
			for n, want := range tc.keep {
				if b, err := os.ReadFile(p(n)); err != nil || string(b) != want {
					t.Fatalf("%s is %q (%v), want %q", n, b, err, want)
				}
			}
			if _, err := os.Lstat(p("g")); err == nil {
				t.Fatal("the rename happened")
			}
		})
	}
}
