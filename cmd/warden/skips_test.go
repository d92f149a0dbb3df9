package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestCitedTestsNeverSkipSilently: no test that docs/threat-model.md cites
// as the proof of a protection can skip except through internal/testenv,
// which fails under .ci/run. A bare t.Skip for a missing tool printed "ok"
// and left the protection untested on a machine without it (eight cited
// tests once skipped without wat2wasm). The scan follows the functions of
// the same package that a cited test calls, since a helper's skip skips
// the test.
func TestCitedTestsNeverSkipSilently(t *testing.T) {
	doc, err := os.ReadFile("../../docs/threat-model.md")
	if err != nil {
		t.Fatal(err)
	}
	cited := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllSubmatch(doc, -1) {
		cited[string(m[1])] = true
	}

	// Every function of every package directory, by name; a cited test is
	// looked up in all of them (names may repeat across packages).
	type pkgFuncs map[string]*ast.FuncDecl
	dirs := map[string]pkgFuncs{}
	fset := token.NewFileSet()
	err = filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		key := filepath.Dir(p) + "\x00" + f.Name.Name
		if dirs[key] == nil {
			dirs[key] = pkgFuncs{}
		}
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Body != nil {
				dirs[key][fd.Name.Name] = fd
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var found []string
	checked := 0
	for _, funcs := range dirs {
		for name, fd := range funcs {
			if !cited[name] {
				continue
			}
			checked++
			seen := map[string]bool{}
			var visit func(fn string, fd *ast.FuncDecl, path string)
			visit = func(fn string, fd *ast.FuncDecl, path string) {
				if seen[fn] {
					return
				}
				seen[fn] = true
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					switch f := call.Fun.(type) {
					case *ast.SelectorExpr:
						if pkg, ok := f.X.(*ast.Ident); ok && pkg.Name == "testenv" {
							return true
						}
						// Only a *testing.T or B skips a test; rapid's
						// rt.Skip discards one generated input.
						recv, _ := f.X.(*ast.Ident)
						switch {
						case recv == nil || (recv.Name != "t" && recv.Name != "tb" && recv.Name != "b"):
						case f.Sel.Name == "Skip", f.Sel.Name == "Skipf", f.Sel.Name == "SkipNow":
							found = append(found, fset.Position(call.Pos()).String()+": "+path)
						}
					case *ast.Ident:
						if callee, ok := funcs[f.Name]; ok {
							visit(f.Name, callee, path+" → "+f.Name)
						}
					}
					return true
				})
			}
			visit(name, fd, name)
		}
	}
	if checked < 50 {
		t.Fatalf("found only %d cited tests in the source; the scan is broken", checked)
	}
	sort.Strings(found)
	for _, f := range found {
		t.Errorf("%s skips without internal/testenv (skip there, or use testenv.Need so .ci/run fails instead)", f)
	}
}
