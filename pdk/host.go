package pdk

import (
	"encoding/json"
	"fmt"
	"time"
)

// Call invokes the host method by name with params marshalled as JSON and, when
// result is not nil, unmarshals the method's result into it. The call presents
// no particular token, so the host checks it against every capability the
// instance holds. Errors from the host are *Error values with a stable code.
func Call(method string, params, result any) error {
	return call("", method, params, result)
}

func call(token, method string, params, result any) error {
	var raw []byte
	switch p := params.(type) {
	case nil:
		raw = []byte("{}")
	case json.RawMessage:
		raw = p
	default:
		b, err := json.Marshal(params)
		if err != nil {
			return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("%s: params do not encode as JSON: %v", method, err)}
		}
		raw = b
	}
	env, err := hostCall(token, method, raw)
	if err != nil {
		return err
	}
	res, err := decodeEnvelope(env)
	if err != nil {
		return err
	}
	if result == nil || len(res) == 0 {
		return nil
	}
	if err := json.Unmarshal(res, result); err != nil {
		return &Error{Code: CodeInternal, Message: fmt.Sprintf("%s: host result does not decode: %v", method, err)}
	}
	return nil
}

// FileInfo describes a file as the host's fs.stat reports it.
type FileInfo struct {
	Name  string    `json:"name"`
	Type  string    `json:"type"` // "file", "dir", "symlink" or "other"
	Size  int64     `json:"size"`
	Mode  uint32    `json:"mode"` // permission bits, e.g. 0o644
	MTime time.Time `json:"mtime"`
}

// IsDir reports whether the file is a directory.
func (fi FileInfo) IsDir() bool { return fi.Type == "dir" }

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name string `json:"name"`
	Type string `json:"type"` // "file", "dir", "symlink" or "other"
	Size int64  `json:"size"`
}

// IsDir reports whether the entry is a directory.
func (e DirEntry) IsDir() bool { return e.Type == "dir" }

// FSClient calls the host's fs.* methods. Paths are absolute host paths
// ("~" is not expanded by the guest).
type FSClient struct{ token string }

// FS returns the filesystem facade that presents every capability the
// instance holds.
func FS() *FSClient { return &FSClient{} }

// Read returns the content of the file at path.
func (f *FSClient) Read(path string) ([]byte, error) {
	var res struct {
		Data []byte `json:"data"`
	}
	if err := call(f.token, "fs.read", map[string]any{"path": path}, &res); err != nil {
		return nil, err
	}
	return res.Data, nil
}

// Write replaces the content of the file at path, creating it if needed. The
// host records the content hash before and after in its audit log.
func (f *FSClient) Write(path string, data []byte) error {
	return call(f.token, "fs.write", map[string]any{"path": path, "data": data}, nil)
}

// Append adds data at the end of the file at path, creating it if needed.
func (f *FSClient) Append(path string, data []byte) error {
	return call(f.token, "fs.write", map[string]any{"path": path, "data": data, "append": true}, nil)
}

// List returns the entries of the directory at path that lie inside a grant.
func (f *FSClient) List(path string) ([]DirEntry, error) {
	var res struct {
		Entries []DirEntry `json:"entries"`
	}
	if err := call(f.token, "fs.list", map[string]any{"path": path}, &res); err != nil {
		return nil, err
	}
	return res.Entries, nil
}

// Stat describes the file at path.
func (f *FSClient) Stat(path string) (FileInfo, error) {
	var fi FileInfo
	err := call(f.token, "fs.stat", map[string]any{"path": path}, &fi)
	return fi, err
}

// Delete removes the file, or empty directory, at path.
func (f *FSClient) Delete(path string) error {
	return call(f.token, "fs.delete", map[string]any{"path": path}, nil)
}

// KVClient calls the host's kv.* methods: a small key-value store private to
// the plugin.
type KVClient struct{}

// KV returns the plugin's key-value store.
func KV() KVClient { return KVClient{} }

// Get returns the value of key; a missing key is an error matching ErrNotFound.
func (KVClient) Get(key string) ([]byte, error) {
	var res struct {
		Found bool   `json:"found"`
		Value []byte `json:"value"`
	}
	if err := Call("kv.get", map[string]any{"key": key}, &res); err != nil {
		return nil, err
	}
	if !res.Found {
		return nil, &Error{Code: CodeNotFound, Message: fmt.Sprintf("kv: no key %q", key)}
	}
	return res.Value, nil
}

// Set stores value under key.
func (KVClient) Set(key string, value []byte) error {
	return Call("kv.set", map[string]any{"key": key, "value": value}, nil)
}

// Delete removes key and reports whether it existed.
func (KVClient) Delete(key string) (existed bool, err error) {
	var res struct {
		Existed bool `json:"existed"`
	}
	err = Call("kv.delete", map[string]any{"key": key}, &res)
	return res.Existed, err
}

// List returns the keys that start with prefix.
func (KVClient) List(prefix string) ([]string, error) {
	var res struct {
		Keys []string `json:"keys"`
	}
	if err := Call("kv.list", map[string]any{"prefix": prefix}, &res); err != nil {
		return nil, err
	}
	return res.Keys, nil
}

// Logger writes to the plugin's log on the host, which is audited with the
// invocation. Standard output and standard error are captured too, but only
// Logger carries a level.
type Logger struct{}

// Log returns the plugin's logger.
func Log() Logger { return Logger{} }

// Debug logs msg at level debug.
func (l Logger) Debug(msg string) error { return l.write("debug", msg) }

// Info logs msg at level info.
func (l Logger) Info(msg string) error { return l.write("info", msg) }

// Warn logs msg at level warn.
func (l Logger) Warn(msg string) error { return l.write("warn", msg) }

// Error logs msg at level error.
func (l Logger) Error(msg string) error { return l.write("error", msg) }

func (Logger) write(level, msg string) error {
	return Call("log.write", map[string]any{"level": level, "message": msg}, nil)
}
