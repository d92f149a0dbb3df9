package manifest

import (
	"bytes"
	_ "embed"
)

//go:embed schema.json
var schemaJSON []byte

// Schema returns the manifest's JSON Schema (draft 2020-12), the same document
// as manifest/schema.json in the repository. The caller owns the copy.
func Schema() []byte { return bytes.Clone(schemaJSON) }
