package private

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Open opens path to read it, refusing a symbolic link or junction in its
// last component (an error wrapping syscall.ELOOP): the file is opened with
// FILE_FLAG_OPEN_REPARSE_POINT, so a link is opened itself, not followed,
// and then refused. Windows has no FIFOs in its file systems (named pipes
// live under \\.\pipe\), so the open cannot block; the caller refuses what
// is not a regular file.
func Open(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var tag struct{ attributes, reparseTag uint32 } // FILE_ATTRIBUTE_TAG_INFO
	err = windows.GetFileInformationByHandleEx(h, windows.FileAttributeTagInfo, (*byte)(unsafe.Pointer(&tag)), uint32(unsafe.Sizeof(tag)))
	if err != nil {
		windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	// A name surrogate (symlink, junction) stands for another file; any
	// other reparse point (a cloud placeholder, a deduplicated file) is the
	// file itself.
	if tag.attributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 && tag.reparseTag&0x20000000 != 0 {
		windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
	}
	return os.NewFile(uintptr(h), path), nil
}

// CheckFile reports why the open file f is not private to the current user;
// nil when it is. It reads the security descriptor of the open handle, so
// the file cannot be swapped between the check and the read.
func CheckFile(f *os.File, fi fs.FileInfo) error {
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("cannot read its owner and access list: %w", err)
	}
	return judged(f.Name(), sd, false)
}

// Check reports why path, whose os.Lstat is fi, is not private: a directory
// others may change, or a file others may access at all.
func Check(path string, fi fs.FileInfo) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("cannot read its owner and access list: %w", err)
	}
	return judged(path, sd, fi.IsDir())
}

func judged(path string, sd *windows.SECURITY_DESCRIPTOR, dir bool) error {
	u, err := currentUser()
	if err != nil {
		return err
	}
	d, err := read(sd)
	if err != nil {
		return fmt.Errorf("cannot read its security descriptor: %w", err)
	}
	p := judge(d, u.sid, u.elevated, dir)
	if p == nil {
		return nil
	}
	return fmt.Errorf("%s; run: %s", p.text(u.sid, dir, accountName), p.fix(path, u.account, dir))
}

// read takes what the rule needs out of sd.
func read(sd *windows.SECURITY_DESCRIPTOR) (descriptor, error) {
	owner, _, err := sd.Owner()
	if err != nil {
		return descriptor{}, err
	}
	if owner == nil {
		return descriptor{}, errors.New("it has no owner")
	}
	d := descriptor{owner: owner.String()}
	dacl, _, err := sd.DACL()
	switch {
	case errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) || (err == nil && dacl == nil):
		return d, nil // no DACL, or a null one: hasDACL stays false
	case err != nil:
		return descriptor{}, err
	}
	d.hasDACL = true
	for i := range uint32(dacl.AceCount) {
		var e *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &e); err != nil {
			return descriptor{}, fmt.Errorf("access entry %d: %w", i, err)
		}
		a := ace{typ: e.Header.AceType, flags: e.Header.AceFlags, mask: uint32(e.Mask)}
		// Allowed, denied and their callback forms keep the SID right
		// after the mask; for the other kinds judge does not need it.
		switch a.typ {
		case aceAllowed, aceDenied, aceAllowedCallback:
			a.sid = (*windows.SID)(unsafe.Pointer(&e.SidStart)).String()
		}
		d.aces = append(d.aces, a)
	}
	return d, nil
}

type user struct {
	sid, account string
	elevated     bool // Administrators is enabled in the process token
}

// currentUser is the user of the process token: the one warden runs as.
var currentUser = sync.OnceValues(func() (user, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return user{}, fmt.Errorf("cannot tell which user warden runs as: %w", err)
	}
	sid := tu.User.Sid.String()
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return user{}, fmt.Errorf("cannot tell which user warden runs as: %w", err)
	}
	// Token 0: CheckTokenMembership asks about the process's own token.
	elevated, err := windows.Token(0).IsMember(admins)
	if err != nil {
		return user{}, fmt.Errorf("cannot tell whether warden runs as an administrator: %w", err)
	}
	return user{sid: sid, account: accountName(sid), elevated: elevated}, nil
})

// accountName is DOMAIN\name for sid, or "" when it has none.
func accountName(sid string) string {
	s, err := windows.StringToSid(sid)
	if err != nil {
		return ""
	}
	acc, dom, _, err := s.LookupAccount("")
	if err != nil {
		return ""
	}
	if dom == "" {
		return acc
	}
	return dom + `\` + acc
}

// MkdirAll creates dir and its missing parents private to the current
// user: each gets a protected access list (nothing inherited from above)
// giving full control to the user, SYSTEM and Administrators, inherited by
// everything created inside, and the user as owner — mode 0700.
func MkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	err = mkdir(dir)
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return nil // made meanwhile by someone else; the caller checks it
		}
	}
	return err
}

func mkdir(dir string) error {
	u, err := currentUser()
	if err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString("O:" + u.sid +
		"D:P(A;OICI;FA;;;" + u.sid + ")(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	if err := windows.CreateDirectory(p, sa); err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

// Restrict makes the file f, just created by this process, private: a
// protected access list (nothing inherited from its directory) giving full
// control to the user, SYSTEM and Administrators — mode 0600. It goes by
// f's name, because a handle opened to read and write has no right to change
// the access list; the caller created the file and has not yet written
// anything secret to it.
func Restrict(f *os.File) error {
	u, err := currentUser()
	if err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString("D:P(A;;FA;;;" + u.sid + ")(A;;FA;;;SY)(A;;FA;;;BA)")
	if err != nil {
		return &fs.PathError{Op: "restrict", Path: f.Name(), Err: err}
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return &fs.PathError{Op: "restrict", Path: f.Name(), Err: err}
	}
	err = windows.SetNamedSecurityInfo(f.Name(), windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return &fs.PathError{Op: "restrict", Path: f.Name(), Err: err}
	}
	return nil
}
