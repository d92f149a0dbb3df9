package store

import "path/filepath"

// uriPath is the path part of the database's file: URI. SQLite reads a
// Windows path as file:///C:/dir/state.db: forward slashes, and a "/"
// before the drive letter, which it drops again when it opens the file.
// A backslash in a URI is no separator, and C: right after "file:" is not
// a path at all.
func uriPath(path string) string {
	p := filepath.ToSlash(path)
	if filepath.VolumeName(path) != "" && p[0] != '/' {
		p = "/" + p
	}
	return p
}
