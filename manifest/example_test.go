package manifest_test

import (
	"fmt"

	"github.com/wardenproject/warden/manifest"
)

func ExampleParse() {
	_, err := manifest.Parse([]byte(`{
  "name": "demo",
  "version": "1.0.0",
  "description": "d",
  "entry": "plugin.wasm",
  "runtime": "wasm",
  "permisions": []
}`))
	fmt.Println(err)
	// Output:
	// 7:3: permisions: unknown field "permisions" (known: name, version, description, entry, runtime, publisher, permissions, tools, limits, events)
}

func ExampleRisk() {
	m, err := manifest.Parse([]byte(`{
  "name": "demo", "version": "1.0.0", "description": "d", "entry": "plugin.wasm", "runtime": "wasm",
  "permissions": [{"resource": "clipboard", "actions": ["read"], "reason": "Reads the text to translate."}]
}`))
	if err != nil {
		panic(err)
	}
	s := manifest.Risk(m)
	fmt.Println(s)
	for _, r := range s.Reasons {
		fmt.Printf("%+d %s\n", r.Points, r.What)
	}
	// Output:
	// 25/100 (medium)
	// +10 reads the clipboard
	// +15 no publisher: nobody is accountable for the plugin
}
