package manifest

import (
	"fmt"
	"io"
	"path/filepath"
)

// Report is what warden lint says about one manifest file.
type Report struct {
	File     string    `json:"file"`
	Findings []Finding `json:"findings"`
	// Risk is nil when the file could not be parsed.
	Risk *Score `json:"risk,omitempty"`
}

// Count returns how many findings have severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// LintFile is LintFileWith with the zero LintOptions.
func LintFile(path string) (*Report, error) { return LintFileWith(path, LintOptions{}) }

// LintFileWith reads, parses, validates and lints the manifest at path (a
// file, or a directory holding manifest.json) and scores it. Faults in the
// manifest are findings; the error is only for a file that cannot be read.
func LintFileWith(path string, o LintOptions) (*Report, error) {
	file, src, err := ReadFile(path)
	if err != nil && len(Errors(err)) == 0 {
		return nil, err
	}
	r := &Report{File: file, Findings: []Finding{}}
	if err != nil { // oversize
		r.Findings = parseFindings(err)
		return r, nil
	}
	m, err := Parse(src)
	if err != nil {
		r.Findings = parseFindings(err)
		return r, nil
	}
	r.Findings = append(r.Findings, LintWith(m, src, file, o)...)
	score := Risk(m)
	r.Risk = &score
	return r, nil
}

// WriteText writes the reports for a person: one line per finding in the
// file:line:col form editors link to, one risk line per file and a summary.
func WriteText(w io.Writer, reports []*Report) error {
	var errs, warns, notes int
	for _, r := range reports {
		for _, f := range r.Findings {
			where := r.File
			if f.Line > 0 {
				where = fmt.Sprintf("%s:%d:%d", r.File, f.Line, f.Col)
			}
			path := ""
			if f.Path != "" {
				path = f.Path + ": "
			}
			if _, err := fmt.Fprintf(w, "%s: %s %s %s: %s%s\n", where, f.Severity, f.RuleID, f.Rule, path, f.Message); err != nil {
				return err
			}
		}
		if r.Risk != nil {
			fmt.Fprintf(w, "%s: risk %s\n", r.File, r.Risk)
		}
		errs += r.Count(SeverityError)
		warns += r.Count(SeverityWarning)
		notes += r.Count(SeverityNote)
	}
	_, err := fmt.Fprintf(w, "%d %s: %d %s, %d %s, %d %s\n", len(reports), plural(len(reports), "file", "files"),
		errs, plural(errs, "error", "errors"), warns, plural(warns, "warning", "warnings"), notes, plural(notes, "note", "notes"))
	return err
}

// WriteRisk writes a score for a person: the value and one line per reason.
func WriteRisk(w io.Writer, file string, s Score) error {
	fmt.Fprintf(w, "%s: risk %s\n", file, s)
	for _, r := range s.Reasons {
		where := ""
		if r.Path != "" {
			where = " [" + r.Path + "]"
		}
		if _, err := fmt.Fprintf(w, "  %+4d  %s%s\n", r.Points, r.What, where); err != nil {
			return err
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// displayPath is path relative to the working directory when it lies below
// it, with forward slashes: the form SARIF consumers resolve against the
// repository root.
func displayPath(path, wd string) string {
	if wd != "" && filepath.IsAbs(path) {
		if rel, err := filepath.Rel(wd, path); err == nil && filepath.IsLocal(rel) {
			path = rel
		}
	}
	return filepath.ToSlash(path)
}
