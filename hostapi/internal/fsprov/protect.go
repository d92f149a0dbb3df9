package fsprov

// This file keeps warden's own state out of reach by identity (device and
// inode), where the gate's name checks cannot see: a folder on the way to
// the state that was renamed (by the plugin, to work in the moved copy and
// rename it back, or by another program), a hard link to a protected file,
// a bind mount of the state directory elsewhere.

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// ErrProtected: the path reaches warden's own state (a protected identity),
// or the operation would move or remove a directory that holds it.
var ErrProtected = errors.New("warden's own state: no plugin may touch it")

// ProtectedError is the refusal of a path by identity. Holds is true when
// the path is a directory on the way to warden's state (which may be looked
// into but not moved, removed or replaced), false when it is that state
// itself, under whatever name it was reached.
type ProtectedError struct {
	Path  string // the path as the caller gave it
	Holds bool
	// ViaLink is true when the walk had followed a symlink before it met
	// the state (the gate's name check on the resolved path would have
	// said the same, had the walk finished).
	ViaLink bool
}

func (e *ProtectedError) Error() string {
	if e.Holds {
		return e.Path + " holds " + ErrProtected.Error()
	}
	return e.Path + " reaches " + ErrProtected.Error()
}

// Is makes errors.Is(err, ErrProtected) true.
func (e *ProtectedError) Is(target error) bool { return target == ErrProtected }

// fileID is what makes a file the same file whatever its name: a rename
// keeps it, a hard link shares it, a bind mount shows it again.
type fileID struct{ dev, ino uint64 }

// Protection is the identities of warden's own state, taken once (at
// hostapi.NewGate) from the protected paths:
//
//   - state: each protected path that exists, as Lstat sees it (a symlink
//     given as warden's home is itself protected) and as Stat sees it (the
//     directory or file it names). No component of any walk, no target and
//     no opened file may be one of these: whatever name leads there, the
//     call is refused.
//   - holds: every existing directory on the way to a protected path (both
//     as given and with its symlinks resolved), down to the nearest existing
//     ancestor of a protected path that does not exist yet. These may be
//     walked through and listed, but never removed, moved away or replaced
//     by a rename, since moving one moves warden's state to a name the
//     checks no longer know.
//
// Why identities and not only names: names are what a rename changes. With
// read, write and delete on a folder holding warden's home two levels down,
// a plugin renamed the folder in between, read the host key and planted a
// policy under the new name (which no name check knew), and renamed it
// back. A directory cannot be hard linked, so a walk that refuses to pass
// through a protected directory's identity reaches nothing inside it, under
// any name; and refusing to move any directory that holds one keeps every
// protected path where the host (and its names) expect it.
//
// A protected path that does not exist yet (a cache directory created
// later) has no identity to record: its nearest existing ancestor and every
// directory above it are held (so none can be moved to make the missing
// part somewhere else and move it back), and the gate refuses by name to
// create, move or remove anything on the way to it.
//
// Identities are taken once. A protected file that warden itself replaces
// later (an editor saving the policy with a rename) is still protected by
// name; its old inode number, if the file system reuses it for a new file,
// makes that file refused until the next start (a refusal, never an
// opening). Files created later inside a protected directory are reachable
// only through it (which is refused), except through a hard link made by
// another program of the user (a plugin cannot make links): that is the
// same-user attacker of docs/threat-model.md.
//
// The walk starts at a grant's base: the base itself is checked on every
// call, the folders above it are not re-examined (a stat per folder per
// call). A plugin cannot move them around warden's state, since every
// folder that holds the state is held; only another program could move
// warden's home so that it comes to hold an existing grant's base.
//
// On systems whose file information carries no device and inode (not
// Unix), the set is empty, and the provider refuses every operation there
// (supported, id_other.go) rather than run on the gate's names alone.
type Protection struct {
	state map[fileID]struct{}
	holds map[fileID]struct{}
}

// NewProtection records the identities of paths: clean absolute paths,
// each given in every spelling the caller knows (hostapi passes each
// protected path as configured and with its symlinks resolved).
func NewProtection(paths []string) *Protection {
	p := &Protection{state: map[fileID]struct{}{}, holds: map[fileID]struct{}{}}
	for _, s := range paths {
		if !strings.HasPrefix(s, "/") {
			continue
		}
		for d := range prefixes(s) {
			fi, err := os.Lstat(d)
			if err != nil {
				break // the rest does not exist yet: held by name only
			}
			set := p.holds
			if d == s {
				set = p.state
			}
			p.add(set, fi)
			if fi.Mode()&fs.ModeSymlink != 0 {
				if to, err := os.Stat(d); err == nil {
					p.add(set, to)
				}
			}
		}
	}
	return p
}

// prefixes yields "/", then each longer prefix of the clean absolute path
// s, ending with s itself.
func prefixes(s string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		if !yield("/") || s == "/" {
			return
		}
		for i := 1; i < len(s); i++ {
			if s[i] == '/' && !yield(s[:i]) {
				return
			}
		}
		yield(s)
	}
}

func (p *Protection) add(set map[fileID]struct{}, fi fs.FileInfo) {
	if id, ok := idOf(fi); ok {
		set[id] = struct{}{}
	}
}

// active reports whether p holds any identity, so that a gate protecting
// nothing pays nothing.
func (p *Protection) active() bool { return p != nil && len(p.state)+len(p.holds) > 0 }

// isState reports whether fi is warden's state itself.
func (p *Protection) isState(fi fs.FileInfo) bool {
	if p == nil || len(p.state) == 0 || fi == nil {
		return false
	}
	id, ok := idOf(fi)
	if !ok {
		return false
	}
	_, hit := p.state[id]
	return hit
}

// mayMove reports whether the entry fi may be removed, moved away or
// replaced: not if it is warden's state or a directory holding it.
func (p *Protection) mayMove(fi fs.FileInfo) bool {
	if p == nil || fi == nil {
		return true
	}
	id, ok := idOf(fi)
	if !ok {
		return true
	}
	_, s := p.state[id]
	_, h := p.holds[id]
	return !s && !h
}
