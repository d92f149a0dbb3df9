package manifest

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"
)

// SARIF 2.1.0 (OASIS Standard, 27 March 2020) output: the subset that GitHub
// code scanning and other CI consumers read. Columns count Unicode code points,
// which the run declares with columnKind.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool      `json:"tool"`
	ColumnKind string         `json:"columnKind"`
	Results    []sarifResult  `json:"results"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string      `json:"id"`
	Name                 string      `json:"name"`
	ShortDescription     sarifText   `json:"shortDescription"`
	FullDescription      sarifText   `json:"fullDescription"`
	HelpURI              string      `json:"helpUri"`
	Help                 sarifText   `json:"help"`
	DefaultConfiguration sarifConfig `json:"defaultConfiguration"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// SARIFSchemaURI is the $schema the SARIF output names.
const SARIFSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

// WriteSARIF writes the reports as one SARIF 2.1.0 log with one run. Every
// rule is described in tool.driver.rules, each result points at the line and
// column in the manifest file, and file paths under wd are made relative to it
// (code scanning resolves them against the repository root). The risk score of
// each file is in the run's property bag under "warden/risk".
func WriteSARIF(w io.Writer, reports []*Report, toolVersion, wd string) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "warden",
			Version:        toolVersion,
			InformationURI: "https://github.com/wardenproject/warden",
		}},
		ColumnKind: "unicodeCodePoints",
		Results:    []sarifResult{},
	}
	index := map[string]int{}
	for i, r := range rules {
		index[r.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   r.ID,
			Name:                 r.Name,
			ShortDescription:     sarifText{r.Short},
			FullDescription:      sarifText{r.Full},
			HelpURI:              RulesDocURL + "#" + r.Anchor(),
			Help:                 sarifText{r.Full},
			DefaultConfiguration: sarifConfig{Level: string(r.Severity)},
		})
	}
	type fileRisk struct {
		File  string `json:"file"`
		Value int    `json:"value"`
		Band  string `json:"band"`
	}
	var risks []fileRisk
	for _, rep := range reports {
		uri := sarifURI(displayPath(rep.File, wd))
		for _, f := range rep.Findings {
			line, col := f.Line, f.Col
			if line < 1 {
				line, col = 1, 1
			}
			loc := sarifLocation{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: uri},
				Region:           sarifRegion{StartLine: line, StartColumn: max(col, 1)},
			}}
			if f.Path != "" {
				loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: f.Path, Kind: "member"}}
			}
			run.Results = append(run.Results, sarifResult{
				RuleID:    f.RuleID,
				RuleIndex: index[f.RuleID],
				Level:     string(f.Severity),
				Message:   sarifText{f.Message},
				Locations: []sarifLocation{loc},
			})
		}
		if rep.Risk != nil {
			risks = append(risks, fileRisk{uri, rep.Risk.Value, rep.Risk.Band})
		}
	}
	if risks != nil {
		run.Properties = map[string]any{"warden/risk": risks}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: SARIFSchemaURI, Version: "2.1.0", Runs: []sarifRun{run}})
}

// sarifURI turns a slash-separated path into the URI reference SARIF wants:
// percent-encoded, and a file URL when the path is absolute.
func sarifURI(p string) string {
	if strings.HasPrefix(p, "/") {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}
