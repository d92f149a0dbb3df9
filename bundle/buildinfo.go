package bundle

import (
	"bytes"
	"regexp"
	"runtime/debug"
)

// Go writes its module information into every binary between two 16-byte
// sentinels (cmd/go/internal/modload.ModInfoProg). debug/buildinfo finds it
// through ELF, PE and Mach-O section tables, but has no WebAssembly reader, so
// for a wasm payload warden finds the sentinels in the data segments directly.
var (
	modInfoStart = []byte("0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6")
	modInfoEnd   = []byte("\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2")
	// goVersionRE finds runtime.buildVersion, which the module info omits.
	goVersionRE = regexp.MustCompile(`go1\.[0-9]+(\.[0-9]+)?((rc|beta)[0-9]+)?`)
)

// wasmMagic starts every WebAssembly binary module.
var wasmMagic = []byte("\x00asm")

// readGoBuildInfo returns the Go build information embedded in a wasm binary,
// or nil when data is not a Go-built wasm module.
func readGoBuildInfo(data []byte) *debug.BuildInfo {
	if !bytes.HasPrefix(data, wasmMagic) {
		return nil
	}
	i := bytes.Index(data, modInfoStart)
	if i < 0 {
		return nil
	}
	rest := data[i+len(modInfoStart):]
	j := bytes.Index(rest, modInfoEnd)
	if j < 0 || j > 1<<20 {
		return nil
	}
	bi, err := debug.ParseBuildInfo(string(rest[:j]))
	if err != nil {
		return nil
	}
	if bi.GoVersion == "" {
		// Best effort: the first Go version string in the binary is the
		// runtime's own buildVersion in every toolchain tried (1.21–1.26).
		bi.GoVersion = string(goVersionRE.Find(data))
	}
	return bi
}

// setting returns the build setting key of bi, or "".
func setting(bi *debug.BuildInfo, key string) string {
	if bi == nil {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
