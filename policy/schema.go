package policy

import _ "embed"

//go:embed policy.schema.json
var schema []byte

// Schema returns the JSON Schema (2020-12) of the policy file format, the same
// bytes as docs/policy.schema.json. Editors and CI can check a policy with it;
// Parse checks everything it says and more.
func Schema() []byte { return append([]byte(nil), schema...) }
