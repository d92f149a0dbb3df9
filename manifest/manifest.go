package manifest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Manifest is a plugin's declaration of who made it, how it runs, what tools it
// offers and every resource it may ever be granted. docs/manifest.md specifies
// each field.
type Manifest struct {
	Name        string       `json:"name"`
	Version     string       `json:"version"`
	Description string       `json:"description"`
	Entry       string       `json:"entry"`
	Runtime     string       `json:"runtime"`
	Publisher   Publisher    `json:"publisher,omitzero"`
	Permissions []Permission `json:"permissions,omitempty"`
	Tools       []Tool       `json:"tools,omitempty"`
	Limits      Limits       `json:"limits,omitzero"`
	Events      []string     `json:"events,omitempty"`

	// loc maps JSON paths to source positions when the manifest came from Parse,
	// so that Validate and Lint can point at the line of a fault.
	loc *locator
}

// Publisher names who signs the plugin's bundles.
type Publisher struct {
	Name string `json:"name"`
	// KeyID names the publisher's Ed25519 signing key: "ed25519:" and 16
	// lowercase hex digits (see internal/keyid).
	KeyID string `json:"key_id"`
}

// Permission is one resource pattern the plugin may be granted, the actions on
// it, and the reason shown to the person asked to grant it.
type Permission struct {
	Resource string   `json:"resource"`
	Actions  []string `json:"actions"`
	Reason   string   `json:"reason,omitempty"`
}

// Tool is one MCP tool the plugin offers.
type Tool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	Annotations  *Annotations    `json:"annotations,omitempty"`
}

// Annotations are the MCP tool annotations (MCP 2025-06-18, ToolAnnotations).
// They are hints for the client's interface, never a security boundary: warden
// enforces permissions, not hints.
type Annotations struct {
	Title           string `json:"title,omitempty"`
	ReadOnlyHint    *bool  `json:"readOnlyHint,omitempty"`
	DestructiveHint *bool  `json:"destructiveHint,omitempty"`
	IdempotentHint  *bool  `json:"idempotentHint,omitempty"`
	OpenWorldHint   *bool  `json:"openWorldHint,omitempty"`
}

// Limits bound one invocation of a tool. Zero means the host default. The
// enterprise policy may cap each of them lower (policy max_memory_mb,
// max_write_bytes, max_events, max_log_bytes).
type Limits struct {
	MemoryMB       int `json:"memory_mb,omitempty"`
	TimeoutMS      int `json:"timeout_ms,omitempty"`
	MaxOutputBytes int `json:"max_output_bytes,omitempty"`
	// MaxWriteBytes bounds the bytes one invocation writes to host files,
	// through fs.write and the WASI filesystem alike; MaxEvents the audit
	// events its host calls produce; MaxLogBytes its log.write messages and
	// captured stdout and stderr together.
	MaxWriteBytes int `json:"max_write_bytes,omitempty"`
	MaxEvents     int `json:"max_events,omitempty"`
	MaxLogBytes   int `json:"max_log_bytes,omitempty"`
}

// Host defaults for a zero limit, and the largest value a manifest may ask for.
const (
	DefaultMemoryMB       = 64
	DefaultTimeoutMS      = 5000
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxWriteBytes  = 64 << 20
	DefaultMaxEvents      = 10_000
	DefaultMaxLogBytes    = 1 << 20

	MaxMemoryMB       = 4096 // wasm32 cannot address more than 4 GiB
	MaxTimeoutMS      = 600_000
	MaxMaxOutputBytes = 64 << 20
	MaxMaxWriteBytes  = 1 << 30
	MaxMaxEvents      = 1_000_000
	MaxMaxLogBytes    = 64 << 20
)

// Effective returns l with every zero field replaced by the host default.
func (l Limits) Effective() Limits {
	if l.MemoryMB == 0 {
		l.MemoryMB = DefaultMemoryMB
	}
	if l.TimeoutMS == 0 {
		l.TimeoutMS = DefaultTimeoutMS
	}
	if l.MaxOutputBytes == 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if l.MaxWriteBytes == 0 {
		l.MaxWriteBytes = DefaultMaxWriteBytes
	}
	if l.MaxEvents == 0 {
		l.MaxEvents = DefaultMaxEvents
	}
	if l.MaxLogBytes == 0 {
		l.MaxLogBytes = DefaultMaxLogBytes
	}
	return l
}

// Runtimes a manifest may name.
const (
	RuntimeWasm    = "wasm"
	RuntimeProcess = "process"
	RuntimeMCP     = "mcp"
)

// MaxSize is the largest manifest warden reads, in bytes. Real manifests are a
// few kilobytes; the cap bounds the work any file can cause.
const MaxSize = 1 << 20

// MaxDepth is the deepest nesting of objects and arrays Parse accepts.
const MaxDepth = 64

// FileName is the name of the manifest inside a plugin directory.
const FileName = "manifest.json"

// Load reads the manifest at path (a file, or a directory holding
// manifest.json), parses it and validates it strictly: the entry file must exist.
func Load(path string) (*Manifest, error) {
	return LoadWith(path, ValidateOptions{})
}

// LoadWith is Load with validation options.
func LoadWith(path string, o ValidateOptions) (*Manifest, error) {
	path, src, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(src)
	if err != nil {
		return nil, withFile(err, path)
	}
	if err := m.Validate(filepath.Dir(path), o); err != nil {
		return nil, withFile(err, path)
	}
	return m, nil
}

// ReadFile resolves path (a directory means DIR/manifest.json) and reads at
// most MaxSize bytes from it. It returns the resolved path.
func ReadFile(path string) (string, []byte, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, FileName)
	}
	f, err := os.Open(path)
	if err != nil {
		return path, nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return path, nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if len(src) > MaxSize {
		return path, nil, &Error{File: path, Line: 1, Col: 1, Msg: fmt.Sprintf("file is larger than %d bytes; a manifest is a small JSON document", MaxSize)}
	}
	return path, src, nil
}
