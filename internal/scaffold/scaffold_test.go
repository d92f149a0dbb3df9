package scaffold

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/manifest"
)

var update = flag.Bool("update", false, "copy the repository's pdk/ sources into the embedded copy")

// pdkSources lists the repository's pdk files that a plugin needs.
func pdkSources(t *testing.T) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir("../../pdk")
	if err != nil {
		t.Skipf("no pdk/ source directory here (%v): nothing to compare the embedded copy with", err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || (n != "go.mod" && (!strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go"))) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("../../pdk", n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	return out
}

// The scaffold must hand plugin authors the pdk this tree ships, not an old
// one: the embedded copy must equal pdk/.
func TestEmbeddedPDKIsCurrent(t *testing.T) {
	src := pdkSources(t)
	if *update {
		old, _ := filepath.Glob("pdk/*.txt")
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		for n, b := range src {
			if err := os.WriteFile(filepath.Join("pdk", n+".txt"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Log("updated the embedded pdk copy; rebuild warden")
		return
	}
	emb, err := PDKFiles()
	if err != nil {
		t.Fatal(err)
	}
	for n, b := range src {
		if !bytes.Equal(emb[n], b) {
			t.Errorf("embedded pdk/%s differs from the repository's pdk/%s", n, n)
		}
	}
	for n := range emb {
		if _, ok := src[n]; !ok {
			t.Errorf("embedded pdk/%s no longer exists in pdk/", n)
		}
	}
	if t.Failed() {
		t.Log("run: go test ./internal/scaffold -run TestEmbeddedPDKIsCurrent -update")
	}
}

func TestWriteLints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Plugin")
	files, err := Write(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".gitignore", "README.md", "data/note.txt", "go.mod", "main.go", "manifest.json", "third_party/pdk/go.mod"}
	for _, w := range want {
		found := false
		for _, f := range files {
			found = found || f == w
		}
		if !found {
			t.Errorf("no %s among %v", w, files)
		}
	}
	rep, err := manifest.LintFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The one warning is the placeholder publisher (WDN109): the author
	// must replace it with their own key before packing.
	if rep.Count(manifest.SeverityError) != 0 || rep.Count(manifest.SeverityWarning) != 1 {
		t.Fatalf("lint findings: %+v", rep.Findings)
	}
	for _, f := range rep.Findings {
		if f.Severity == manifest.SeverityWarning && f.RuleID != "WDN109" {
			t.Fatalf("unexpected warning %+v", f)
		}
	}
	m, err := manifest.LoadWith(dir, manifest.ValidateOptions{AllowUnbuilt: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "my-plugin" || len(m.Tools) != 1 || m.Tools[0].Name != "greet" {
		t.Fatalf("manifest %+v", m)
	}
	if _, err := Write(dir, Options{}); err == nil {
		t.Fatal("wrote over a non-empty directory")
	}
	if _, err := Write(t.TempDir(), Options{Name: "Bad_Name"}); err == nil {
		t.Fatal("accepted an invalid plugin name")
	}
}

func TestNameFrom(t *testing.T) {
	for in, want := range map[string]string{"hello": "hello", "My Plugin": "my-plugin", "__x__y": "x-y", "...": "plugin", "Ünï": "n"} {
		if got := NameFrom(in); got != want || !manifest.ValidPluginName(got) {
			t.Errorf("NameFrom(%q) = %q, want %q", in, got, want)
		}
	}
}
