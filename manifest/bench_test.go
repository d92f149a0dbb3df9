package manifest

import (
	"os"
	"testing"
)

// go test ./manifest -run '^$' -bench . -benchmem -count 3
func BenchmarkParseValidate(b *testing.B) {
	src, err := os.ReadFile("../examples/sheet-gen/manifest.json")
	if err != nil {
		b.Fatal(err)
	}
	o := ValidateOptions{AllowUnbuilt: true, Home: "/home/user"}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		m, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Validate("../examples/sheet-gen", o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse isolates the token walk, for comparison with json.Unmarshal.
func BenchmarkParse(b *testing.B) {
	src, err := os.ReadFile("../examples/sheet-gen/manifest.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshal is the floor: encoding/json with none of Parse's checks.
func BenchmarkUnmarshal(b *testing.B) {
	src, err := os.ReadFile("../examples/sheet-gen/manifest.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		var m Manifest
		if err := jsonUnmarshal(src, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLint(b *testing.B) {
	src, err := os.ReadFile("../examples/sheet-gen/manifest.json")
	if err != nil {
		b.Fatal(err)
	}
	m, err := Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Lint(m, src, "../examples/sheet-gen/manifest.json")
	}
}

func BenchmarkRisk(b *testing.B) {
	src, err := os.ReadFile("../examples/sheet-gen/manifest.json")
	if err != nil {
		b.Fatal(err)
	}
	m, err := Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Risk(m)
	}
}
