// Package scaffold writes a new Go warden plugin: what `warden init` makes.
//
// The plugin must build offline with nothing but the stock Go toolchain, from
// any directory, with a warden binary installed from anywhere. The pdk module
// is not published, so a `require` alone would not resolve, and a `replace`
// to a source checkout ties the plugin to that checkout and fails for an
// installed binary. So the binary carries a copy of the pdk's sources
// (embedded from pdk/ here, kept identical to the repository's pdk/ by
// TestEmbeddedPDKIsCurrent; refresh it with
// `go test ./internal/scaffold -run TestEmbeddedPDKIsCurrent -update`), and
// Write puts it in DIR/third_party/pdk with a `replace` to it. The import
// path stays github.com/wardenproject/warden/pdk, so moving to a published
// pdk later is deleting one line and one directory.
//
// The pdk copies carry a ".txt" suffix so that the go tool does not compile
// them as a package of this module.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"unicode"

	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/resource"
)

//go:embed template/*.tmpl pdk/*.txt
var files embed.FS

// Options name the plugin. The zero value derives everything from dir.
type Options struct {
	// Name is the plugin name; empty means the directory's base name, made
	// into a valid plugin name.
	Name string
}

// PDKDir is where Write puts the pdk copy, relative to the plugin directory.
const PDKDir = "third_party/pdk"

// ErrNotEmpty is returned when the target directory already has files.
var ErrNotEmpty = errors.New("directory is not empty")

// Write scaffolds a plugin in dir, which must be missing or empty, and
// returns the files it wrote, relative to dir.
func Write(dir string, o Options) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("scaffold %s: %w", dir, err)
	}
	if ents, err := os.ReadDir(abs); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("scaffold %s: %w; choose a new directory", abs, ErrNotEmpty)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("scaffold %s: %w", abs, err)
	}
	name := o.Name
	if name == "" {
		name = NameFrom(filepath.Base(abs))
	}
	if !manifest.ValidPluginName(name) {
		return nil, fmt.Errorf("scaffold %s: %q is not a valid plugin name: use lowercase letters, digits and single hyphens, like \"my-plugin\" (pass --name)", abs, name)
	}
	data := struct{ Name, DataDir string }{name, filepath.ToSlash(filepath.Join(abs, "data"))}
	if strings.ContainsFunc(data.DataDir, func(r rune) bool { return r == '"' || r == '\\' || r == '`' || unicode.IsControl(r) }) {
		return nil, fmt.Errorf("scaffold %s: the path has a quote, backslash or control character, which the generated files cannot hold; choose another directory", abs)
	}
	if _, err := resource.Parse("filesystem:" + data.DataDir); err != nil {
		return nil, fmt.Errorf("scaffold %s: the data directory cannot be named in a permission: %w", abs, err)
	}

	out := map[string][]byte{}
	for src, dst := range map[string]string{
		"template/main.go.tmpl": "main.go", "template/go.mod.tmpl": "go.mod", "template/manifest.json.tmpl": "manifest.json",
		"template/README.md.tmpl": "README.md", "template/gitignore.tmpl": ".gitignore",
	} {
		t, err := template.ParseFS(files, src)
		if err != nil {
			return nil, fmt.Errorf("scaffold: template %s: %w", src, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("scaffold: template %s: %w", src, err)
		}
		out[dst] = b.Bytes()
	}
	pdk, err := PDKFiles()
	if err != nil {
		return nil, err
	}
	for name, b := range pdk {
		out[path.Join(PDKDir, name)] = b
	}
	out["data/note.txt"] = []byte("A note for " + name + " to read once you grant its data directory.\n")
	// The input the README's `warden run --input @input.json` reads.
	out["input.json"] = []byte("{\"name\": \"Ada\"}\n")

	var written []string
	for rel, b := range out {
		p := filepath.Join(abs, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return written, fmt.Errorf("scaffold %s: %w", abs, err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return written, fmt.Errorf("scaffold %s: %w", abs, err)
		}
		written = append(written, rel)
	}
	slices.Sort(written)
	return written, nil
}

// PDKFiles returns the embedded pdk sources by file name (go.mod and the
// non-test .go files).
func PDKFiles() (map[string][]byte, error) {
	ents, err := fs.ReadDir(files, "pdk")
	if err != nil {
		return nil, fmt.Errorf("scaffold: embedded pdk: %w", err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := fs.ReadFile(files, "pdk/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("scaffold: embedded pdk: %w", err)
		}
		out[strings.TrimSuffix(e.Name(), ".txt")] = b
	}
	if len(out) == 0 {
		return nil, errors.New("scaffold: the binary carries no pdk sources; it was built from a broken tree")
	}
	return out, nil
}

// NameFrom turns a directory name into a plugin name: lower case, runs of
// anything but letters and digits become one hyphen.
func NameFrom(base string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(base) {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	s := b.String()
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "-")
	}
	if s == "" {
		return "plugin"
	}
	return s
}
