// Command sheetgen is the sheet-gen warden plugin: its tool generate writes a
// CSV spreadsheet into the granted ~/Documents/Spreadsheets directory.
//
// It shows both ways a plugin reaches a file. The spreadsheet goes through the
// explicit host API: the plugin asks for a write capability on the directory
// and writes with that capability's facade, so the write is checked against
// that one token. A short summary next to it goes through plain
// os.WriteFile, which warden's WASI filesystem sends through the same gate.
// Both are audited with the content hash before and after.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/wardenproject/warden/pdk"
)

// Input matches the generate tool's input_schema in manifest.json.
type Input struct {
	Title   string   `json:"title"`
	Columns []string `json:"columns,omitempty"`
	Rows    [][]any  `json:"rows"`
	// Dir is the directory to save into, an absolute host path inside the
	// grant. Empty means the directory the plugin's filesystem grant names.
	Dir string `json:"dir,omitempty"`
}

// Output is the generate tool's result.
type Output struct {
	Path        string `json:"path"`
	Rows        int    `json:"rows"`
	SummaryPath string `json:"summary_path"`
}

func init() {
	pdk.Tool("generate", generate)
}

func main() {}

func generate(_ context.Context, in Input) (Output, error) {
	name, err := fileName(in.Title)
	if err != nil {
		return Output{}, err
	}
	dir := in.Dir
	if dir == "" {
		if dir, err = grantedDir(); err != nil {
			return Output{}, err
		}
	}
	dir = path.Clean(dir)
	if !path.IsAbs(dir) {
		return Output{}, pdk.Errorf(pdk.CodeInvalidParams, "dir %q is not an absolute path", in.Dir)
	}
	data, err := render(in.Columns, in.Rows)
	if err != nil {
		return Output{}, err
	}
	out := Output{Path: path.Join(dir, name+".csv"), Rows: len(in.Rows), SummaryPath: path.Join(dir, name+".summary.txt")}

	// 1. The explicit facade, with a capability narrowed to this directory.
	files := pdk.FS()
	c, err := pdk.RequestCapabilityWithReason("save the spreadsheet "+name+".csv", "filesystem:"+dir+"/**", "write")
	switch {
	case err == nil:
		files = c.FS()
	case pdk.CodeOf(err) == pdk.CodeUnavailable:
		// This host issues no capabilities at run time: the grant the
		// plugin started with is the one to use.
	default:
		return Output{}, fmt.Errorf("ask for write access to %s: %w", dir, err)
	}
	if err := files.Write(out.Path, data); err != nil {
		return Output{}, fmt.Errorf("save %s: %w", out.Path, err)
	}

	// 2. Plain os.WriteFile, checked and audited by the same gate.
	summary := fmt.Sprintf("%s\n%d rows, %d columns\n", in.Title, len(in.Rows), len(in.Columns))
	if err := os.WriteFile(out.SummaryPath, []byte(summary), 0o644); err != nil {
		return Output{}, fmt.Errorf("save %s: %w", out.SummaryPath, err)
	}

	return out, nil
}

// grantedDir finds the directory of the plugin's filesystem write grant.
func grantedDir() (string, error) {
	caps, err := pdk.Capabilities()
	if err != nil {
		return "", fmt.Errorf("list capabilities: %w", err)
	}
	for _, c := range caps {
		res, ok := strings.CutPrefix(c.Resource, "filesystem:")
		if !ok {
			continue
		}
		for _, a := range c.Actions {
			if a == "write" {
				return strings.TrimSuffix(strings.TrimSuffix(res, "/**"), "/*"), nil
			}
		}
	}
	return "", pdk.Errorf(pdk.CodeDenied, "no filesystem write capability was granted; grant ~/Documents/Spreadsheets or pass dir")
}

// fileName turns a title into a safe file name: no separators, no dot files.
func fileName(title string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(title) {
		switch {
		case r == '/' || r == '\\' || r < ' ' || r == 0x7f:
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	if name == "" {
		return "", pdk.Errorf(pdk.CodeInvalidParams, "title %q leaves no usable file name", title)
	}
	if len(name) > 120 {
		name = name[:120]
	}
	return name, nil
}

// render writes the header and rows as RFC 4180 CSV.
func render(columns []string, rows [][]any) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if len(columns) > 0 {
		if err := w.Write(columns); err != nil {
			return nil, err
		}
	}
	rec := make([]string, 0, len(columns))
	for i, row := range rows {
		rec = rec[:0]
		for j, cell := range row {
			switch v := cell.(type) {
			case nil:
				rec = append(rec, "")
			case string:
				rec = append(rec, v)
			case float64:
				rec = append(rec, strconv.FormatFloat(v, 'f', -1, 64))
			case bool:
				rec = append(rec, strconv.FormatBool(v))
			default:
				return nil, pdk.Errorf(pdk.CodeInvalidParams, "row %d, cell %d: %T is not a string, number, boolean or null", i, j, cell)
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}
