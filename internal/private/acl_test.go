package private

import (
	"strings"
	"testing"
)

const (
	me    = "S-1-5-21-1-2-3-1001"
	other = "S-1-5-21-1-2-3-1002"
	users = "S-1-5-32-545"
	world = "S-1-1-0"
)

// The access list Windows gives a folder under %APPDATA%, and what warden's
// MkdirAll sets: the user, SYSTEM and Administrators, full control.
func privateACL() []ace {
	return []ace{
		{typ: aceAllowed, flags: 0x3, mask: 0x1f01ff, sid: me},
		{typ: aceAllowed, flags: 0x3, mask: 0x1f01ff, sid: sidSystem},
		{typ: aceAllowed, flags: 0x3, mask: 0x1f01ff, sid: sidAdministrators},
	}
}

func TestJudgeAcceptsPrivate(t *testing.T) {
	for _, dir := range []bool{true, false} {
		if p := judge(descriptor{owner: me, hasDACL: true, aces: privateACL()}, me, false, dir); p != nil {
			t.Fatalf("dir=%v: private ACL refused: %s", dir, p.text(me, dir, noName))
		}
		if p := judge(descriptor{owner: me, hasDACL: true}, me, false, dir); p != nil {
			t.Fatalf("dir=%v: empty ACL (no one but the owner's implicit rights) refused: %s", dir, p.text(me, dir, noName))
		}
	}
}

func noName(string) string { return "" }

// Attack: every way an access list lets another principal in is refused,
// for the directory rule (others may read, not change) and the file rule
// (others may not even read), as mode 0o022 and 0o077 are on Unix.
func TestJudgeRefusesOthers(t *testing.T) {
	with := func(extra ...ace) []ace { return append(privateACL(), extra...) }
	cases := []struct {
		name       string
		d          descriptor
		dirRefused bool
		want       string
	}{
		{"another owner", descriptor{owner: other, hasDACL: true, aces: privateACL()}, true, "owned by " + other},
		{"Administrators as owner", descriptor{owner: sidAdministrators, hasDACL: true, aces: privateACL()}, true, "owned by"},
		{"no DACL", descriptor{owner: me}, true, "no access list"},
		{"Users may add files", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowed, mask: fileAddFile, sid: users})}, true, users},
		{"Everyone generic write", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowed, mask: genericWrite, sid: world})}, true, world},
		{"other user full control", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowed, mask: 0x1f01ff, sid: other})}, true, other},
		{"other user may change the ACL", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowed, mask: rightWriteDAC, sid: other})}, true, other},
		{"other user may delete children", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowed, mask: fileDeleteChild, sid: other})}, true, other},
		{"conditional allow", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowedCallback, mask: genericAll, sid: world})}, true, world},
		{"object allow entry", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowedObject, mask: 0x1})}, true, "does not read"},
		// Read and execute (0x1200a9) is allowed on a directory, not on a file.
		{"Users may read", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowed, mask: 0x1200a9, sid: users})}, false, users},
		{"other may read data", descriptor{owner: me, hasDACL: true, aces: with(ace{typ: aceAllowed, mask: 0x1, sid: other})}, false, other},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := judge(c.d, me, false, false)
			if p == nil {
				t.Fatal("file rule accepted it")
			}
			if txt := p.text(me, false, noName); !strings.Contains(txt, c.want) {
				t.Fatalf("file message %q does not name %q", txt, c.want)
			}
			if p := judge(c.d, me, false, true); (p != nil) != c.dirRefused {
				t.Fatalf("directory rule refused=%v, want %v", p != nil, c.dirRefused)
			}
		})
	}
}

// Entries that give others nothing on the object itself are not counted:
// inherit-only entries (checked on the children they reach), deny entries,
// and the rights to see a file's attributes and access list.
func TestJudgeIgnoresHarmlessEntries(t *testing.T) {
	aces := append(privateACL(),
		ace{typ: aceAllowed, flags: aceInheritOnly | 0x3, mask: genericAll, sid: world},
		ace{typ: aceDenied, mask: genericAll, sid: world},
		ace{typ: aceAllowed, mask: fileHarmless, sid: world},
		ace{typ: aceAllowed, flags: aceInheritOnly, mask: genericAll, sid: sidCreatorOwner},
	)
	for _, dir := range []bool{true, false} {
		if p := judge(descriptor{owner: me, hasDACL: true, aces: aces}, me, false, dir); p != nil {
			t.Fatalf("dir=%v: refused: %s", dir, p.text(me, dir, noName))
		}
	}
}

// Administrators as owner is warden itself only when it runs elevated;
// otherwise it is another principal, and refused like any other owner.
func TestJudgeAdministratorsOwner(t *testing.T) {
	d := descriptor{owner: sidAdministrators, hasDACL: true, aces: privateACL()}
	if p := judge(d, me, true, false); p != nil {
		t.Fatalf("elevated: %s", p.text(me, false, noName))
	}
	if p := judge(d, me, false, false); p == nil || p.kind != badOwner {
		t.Fatalf("not elevated: %+v, want badOwner", p)
	}
	d.owner = sidSystem
	if p := judge(d, me, true, false); p == nil || p.kind != badOwner {
		t.Fatalf("SYSTEM as owner, elevated: %+v, want badOwner", p)
	}
}

func TestFixCommand(t *testing.T) {
	p := &problem{kind: othersIn, sid: users, mask: fileAddFile}
	got := p.fix(`C:\Users\me\AppData\Roaming\warden`, `PC\me`, true)
	want := `icacls "C:\Users\me\AppData\Roaming\warden" /inheritance:r /grant:r "PC\me:(OI)(CI)F" *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F && icacls "C:\Users\me\AppData\Roaming\warden" /remove:g *S-1-5-32-545`
	if got != want {
		t.Fatalf("fix:\n got %s\nwant %s", got, want)
	}
	if got := (&problem{kind: badOwner, sid: other}).fix(`C:\k`, `PC\me`, false); got != `icacls "C:\k" /setowner "PC\me"` {
		t.Fatalf("owner fix: %s", got)
	}
}
