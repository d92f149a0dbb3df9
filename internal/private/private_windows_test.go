package private

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/windows"
)

// setDACL replaces path's access list with the one in sddl (a "D:..." string),
// not inherited from above.
func setDACL(t *testing.T, path, sddl string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		t.Fatal(err)
	}
}

func currentSID(t *testing.T) string {
	u, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	return u.sid
}

// MkdirAll makes a directory, and parents, that pass Check, and a file
// created inside inherits an access list that passes CheckFile.
func TestMkdirAllIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "home")
	if err := MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Lstat(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(d, fi); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	if s := sd.String(); !strings.Contains(s, "D:P") {
		t.Fatalf("the access list inherits from above: %s", s)
	}
	if err := MkdirAll(dir); err != nil {
		t.Fatalf("second MkdirAll: %v", err)
	}
	key := filepath.Join(dir, "k")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(f, fi); err != nil {
		t.Fatalf("a file created in a private directory: %v", err)
	}
}

// Attack: a directory others may write into, and a file others may read,
// are refused, and the error names who is let in and how to fix it.
func TestRefusesOthers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	if err := MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	u := currentSID(t)
	setDACL(t, dir, "D:P(A;OICI;FA;;;"+u+")(A;OICI;FA;;;SY)(A;;0x100002;;;WD)")
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = Check(dir, fi)
	if err == nil || !strings.Contains(err.Error(), "S-1-1-0") || !strings.Contains(err.Error(), "icacls") {
		t.Fatalf("a directory Everyone may add files to: %v", err)
	}

	priv := filepath.Join(t.TempDir(), "p")
	if err := MkdirAll(priv); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(priv, "k")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	setDACL(t, key, "D:P(A;;FA;;;"+u+")(A;;FR;;;BU)")
	f, err := Open(key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(f, fi); err == nil || !strings.Contains(err.Error(), "S-1-5-32-545") {
		t.Fatalf("a key BUILTIN\\Users may read: %v", err)
	}
	// The directory rule lets others read: only changing it is refused.
	setDACL(t, priv, "D:P(A;OICI;FA;;;"+u+")(A;OICI;0x1200a9;;;BU)")
	if fi, err := os.Lstat(priv); err != nil {
		t.Fatal(err)
	} else if err := Check(priv, fi); err != nil {
		t.Fatalf("a directory others may only read: %v", err)
	}
}

// Attack: Open does not follow a symbolic link in the last component.
func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		// Creating a symbolic link needs SeCreateSymbolicLinkPrivilege or
		// Developer Mode; without it there is nothing to test.
		t.Skipf("cannot create a symbolic link here: %v", err)
	}
	f, err := Open(link)
	if err == nil {
		f.Close()
		t.Fatal("Open followed a symbolic link")
	}
	if !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("Open of a link: %v, want ELOOP", err)
	}
}

// A key written where others may read (a folder under C:\, whose inherited
// entries let Authenticated Users modify what is created in it) becomes
// private once Restrict has run, before anything secret is written.
func TestRestrictMakesFilePrivate(t *testing.T) {
	dir := t.TempDir()
	setDACL(t, dir, "D:P(A;OICI;FA;;;"+currentSID(t)+")(A;OICI;0x1301bf;;;AU)")
	f, err := os.Create(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(f, fi); err == nil {
		t.Fatal("a file Authenticated Users may modify passed CheckFile")
	}
	if err := Restrict(f); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(f, fi); err != nil {
		t.Fatalf("after Restrict: %v", err)
	}
}
