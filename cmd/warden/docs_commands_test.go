package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedCommandsExist: every `warden …` command line the README, the
// docs and the scaffold's README show names a real command with flags it
// has. A person copies these lines; one that names a command that does not
// exist (the scaffold once said `warden keygen publisher`) is a broken
// promise that no other test sees.
func TestDocumentedCommandsExist(t *testing.T) {
	files := []string{"../../README.md"}
	for _, g := range []string{"../../docs/*.md", "../../internal/scaffold/template/*.tmpl", "../../examples/*/README.md"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	inline := regexp.MustCompile("`(warden [^`]+)`")
	checked := 0
	for _, f := range files {
		if filepath.Base(f) == "cli.md" {
			continue // generated from the command tree itself
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var lines []docLine
		inBlock := false
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				inBlock = !inBlock
				continue
			}
			if inBlock {
				if s := strings.TrimSpace(l); strings.HasPrefix(s, "warden ") {
					lines = append(lines, docLine{s, true})
				}
				continue
			}
			for _, m := range inline.FindAllStringSubmatch(l, -1) {
				lines = append(lines, docLine{m[1], false})
			}
		}
		for _, l := range lines {
			if documentedCommandOK(t, f, l.text, l.whole) {
				checked++
			}
		}
	}
	t.Logf("%d documented command lines checked", checked)
	if checked < 20 {
		t.Fatalf("checked only %d documented command lines; the scan is broken", checked)
	}
}

// docLine is a documented command: a line of a code block (whole: a command
// to run as it is) or an inline span in prose (which may name a command
// without its arguments, as in "run `warden grant`").
type docLine struct {
	text  string
	whole bool
}

// documentedCommandOK checks one documented command line: the words up to a
// comment, pipe, redirection or second command must reach a subcommand,
// parse as its flags and be arguments it takes (in prose, only when the span
// gives arguments at all). Lines with an ellipsis, alternatives (a|b) or optional
// parts ([x]) are sketches and are skipped.
func documentedCommandOK(t *testing.T, file, line string, whole bool) bool {
	t.Helper()
	for _, cut := range []string{" #", " |", " >", " &&", ";", " 2>", "  "} {
		if i := strings.Index(line, cut); i >= 0 {
			line = line[:i]
		}
	}
	if strings.ContainsAny(line, "…|[(") || strings.Contains(line, "...") || strings.Count(line, "'")%2 != 0 {
		return false
	}
	args := shellWords(t, line)[1:]
	root := newRoot(&app{})
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		t.Errorf("%s: %q names no warden command (%v)", file, line, err)
		return false
	}
	if err := cmd.ParseFlags(rest); err != nil && (whole || !strings.Contains(err.Error(), "flag needs an argument")) {
		t.Errorf("%s: %q: %v", file, line, err)
		return false
	}
	if pos := cmd.Flags().Args(); (whole || len(pos) > 0) && cmd.ValidateArgs(pos) != nil {
		err := cmd.ValidateArgs(pos)
		t.Errorf("%s: %q: %v", file, line, err)
		return false
	}
	return true
}

// TestThreatModelCitesRealTests: every test the threat model names as the
// proof of a protection exists. A renamed or deleted test would otherwise
// leave a claim standing with nothing behind it.
func TestThreatModelCitesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../../docs/threat-model.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cited := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllSubmatch(doc, -1)
	if len(cited) < 50 {
		t.Fatalf("found only %d cited tests; the scan is broken", len(cited))
	}
	for _, m := range cited {
		name := string(m[1])
		if name == "TestReview" { // the prefix of the first review's tests
			continue
		}
		if !defined[name] {
			t.Errorf("docs/threat-model.md cites %s, which no test file defines", name)
		}
	}
}
