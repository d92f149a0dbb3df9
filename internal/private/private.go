// Package private decides whether a file or directory that holds keys, state
// or native code is private to the user warden runs as, creates directories
// that are, and opens such files without following a symbolic link.
//
// What "private" means depends on the system, and this package is the one
// place that knows it:
//
//   - Unix: owned by the current uid; a directory not writable by group or
//     others (mode & 0o022 == 0), a file not accessible to them at all
//     (mode & 0o077 == 0).
//   - Windows, which has no mode bits: owned by the current user's SID (or
//     by Administrators when warden runs elevated, since an elevated token
//     may make that group the owner of what it creates), with a
//     discretionary access list in which no entry that applies to the
//     object gives any principal other than that user, SYSTEM and
//     Administrators (who can take any file anyway, like root) a right to
//     change a directory (add, delete or rename entries, change its
//     attributes, access list or owner), or any right at all to a file
//     beyond reading its attributes and access list. A missing or null access
//     list (everyone may do anything) is not private. Deny entries only take
//     rights away and are ignored; an allow entry of a kind this package does
//     not read (object and compound entries, which files do not use) is not
//     private. Directories it creates get a protected access list of those
//     three principals, inherited by everything created inside, which is
//     what mode 0700 is on Unix.
//
// Every caller wraps the error in its own ErrUnsafe; the error says what lets
// others in and the command that fixes it.
package private
