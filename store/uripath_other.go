//go:build !windows

package store

// uriPath is the path part of the database's file: URI: the absolute path
// itself.
func uriPath(path string) string { return path }
