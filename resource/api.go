package resource

// This file fixes the package's public API so that the packages built on it
// (manifest, capability, policy, hostapi) can be written at the same time.
// Implementation lives in the other files of the package.

// Kind is the first segment of a resource pattern, before the first ':'.
type Kind string

// The resource kinds warden knows. A pattern of any other kind is refused.
const (
	Filesystem Kind = "filesystem"
	Net        Kind = "net"
	Clipboard  Kind = "clipboard"
	Env        Kind = "env"
	Process    Kind = "process"
	Plugin     Kind = "plugin"
	KV         Kind = "kv"
	Secret     Kind = "secret"
)
