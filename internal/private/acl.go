package private

import (
	"fmt"
	"strings"
)

// This file is the Windows access-list rule as plain data, so that it is
// tested on every system; acl_windows.go reads a security descriptor into it.

// Well-known SIDs that may hold rights on a private object: SYSTEM and
// Administrators can take ownership of any file, as root can on Unix; OWNER
// RIGHTS stands for the owner, who is the user; CREATOR OWNER is a
// placeholder that grants nothing on the object it is on.
const (
	sidSystem         = "S-1-5-18"
	sidAdministrators = "S-1-5-32-544"
	sidOwnerRights    = "S-1-3-4"
	sidCreatorOwner   = "S-1-3-0"
)

// ACE types (winnt.h) and the flag that makes an entry apply only to
// children, not to the object it is on.
const (
	aceAllowed               = 0x0
	aceDenied                = 0x1
	aceAllowedCompound       = 0x4
	aceAllowedObject         = 0x5
	aceAllowedCallback       = 0x9
	aceAllowedCallbackObject = 0xB
	aceInheritOnly           = 0x08
)

// Access rights (winnt.h) that matter here.
const (
	fileAddFile         = 0x0002 // FILE_WRITE_DATA on a file
	fileAddSubdirectory = 0x0004 // FILE_APPEND_DATA on a file
	fileWriteEA         = 0x0010
	fileDeleteChild     = 0x0040
	fileReadAttributes  = 0x0080
	fileWriteAttributes = 0x0100
	rightDelete         = 0x00010000
	rightReadControl    = 0x00020000
	rightWriteDAC       = 0x00040000
	rightWriteOwner     = 0x00080000
	rightSynchronize    = 0x00100000
	genericAll          = 0x10000000
	genericWrite        = 0x40000000

	// dirWrite is every right that changes a directory: its entries, its
	// attributes, its access list or its owner (mode 0o022 on Unix).
	dirWrite = fileAddFile | fileAddSubdirectory | fileWriteEA | fileDeleteChild |
		fileWriteAttributes | rightDelete | rightWriteDAC | rightWriteOwner |
		genericWrite | genericAll
	// fileHarmless is all another principal may hold on a private file: to
	// see that it exists, its attributes and its access list (mode 0o077
	// on Unix refuses everything else, reading included).
	fileHarmless = fileReadAttributes | rightReadControl | rightSynchronize
)

// ace is one entry of a discretionary access list.
type ace struct {
	typ   uint8
	flags uint8
	mask  uint32
	sid   string // "" for an entry of a kind whose SID is not read
}

// descriptor is what the rule needs of a security descriptor.
type descriptor struct {
	owner   string
	hasDACL bool // false: no DACL, or a null one — everyone may do anything
	aces    []ace
}

// problem is why a descriptor is not private.
type problem struct {
	kind int
	sid  string // the owner (badOwner) or the principal let in
	mask uint32
	typ  uint8
}

const (
	badOwner = iota
	noDACL
	unreadable
	othersIn
)

// judge applies the rule to d for the user whose SID is user; nil means
// private. elevated says that the process runs with the Administrators
// group enabled in its token: files it creates may then be owned by that
// group (the token's default owner when the "Default owner for objects
// created by members of the Administrators group" policy says so), which
// is then warden itself.
func judge(d descriptor, user string, elevated, dir bool) *problem {
	if d.owner != user && (d.owner != sidAdministrators || !elevated) {
		return &problem{kind: badOwner, sid: d.owner}
	}
	if !d.hasDACL {
		return &problem{kind: noDACL}
	}
	for _, e := range d.aces {
		if e.flags&aceInheritOnly != 0 {
			continue // applies to what is created inside, checked there
		}
		switch e.typ {
		case aceAllowed, aceAllowedCallback:
		case aceAllowedCompound, aceAllowedObject, aceAllowedCallbackObject:
			return &problem{kind: unreadable, typ: e.typ}
		default:
			continue // deny, audit and label entries give no access
		}
		switch e.sid {
		case user, sidSystem, sidAdministrators, sidOwnerRights, sidCreatorOwner:
			continue
		}
		if (dir && e.mask&dirWrite != 0) || (!dir && e.mask&^fileHarmless != 0) {
			return &problem{kind: othersIn, sid: e.sid, mask: e.mask}
		}
	}
	return nil
}

// text says what p lets happen; name gives an account's name for a SID, or
// "" when it has none.
func (p *problem) text(user string, dir bool, name func(sid string) string) string {
	named := func(sid string) string {
		if n := name(sid); n != "" {
			return n + " (" + sid + ")"
		}
		return sid
	}
	switch p.kind {
	case badOwner:
		return fmt.Sprintf("owned by %s, not by you (%s)", named(p.sid), user)
	case noDACL:
		return "has no access list, which lets everyone do anything"
	case unreadable:
		return fmt.Sprintf("has an access entry of type %#x that warden does not read, so it cannot tell whom it lets in", p.typ)
	}
	if dir {
		return fmt.Sprintf("its access list lets %s change it (rights %#x)", named(p.sid), p.mask)
	}
	return fmt.Sprintf("its access list lets %s in (rights %#x)", named(p.sid), p.mask)
}

// fix is the command that makes path private again for account (DOMAIN\user):
// take ownership, or drop the inherited entries and the offending one and
// leave full control to the user, SYSTEM and Administrators.
func (p *problem) fix(path, account string, dir bool) string {
	q := `"` + strings.ReplaceAll(path, `"`, "") + `"`
	if p.kind == badOwner {
		return "icacls " + q + ` /setowner "` + account + `"`
	}
	inherit := ""
	if dir {
		inherit = "(OI)(CI)"
	}
	cmd := "icacls " + q + " /inheritance:r /grant:r \"" + account + ":" + inherit + "F\" *S-1-5-18:" + inherit + "F *S-1-5-32-544:" + inherit + "F"
	if p.kind == othersIn {
		cmd += " && icacls " + q + " /remove:g *" + p.sid
	}
	return cmd
}
