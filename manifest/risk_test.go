package manifest

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every worked example in docs/risk.md scores, reason by reason, what the
// document says.
func TestRiskDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/risk.md")
	if err != nil {
		t.Fatal(err)
	}
	chunks := strings.Split(string(doc), "<!-- risk-example -->")[1:]
	if len(chunks) < 4 {
		t.Fatalf("found %d worked examples", len(chunks))
	}
	jsonBlock := regexp.MustCompile("(?s)```json\n(.*?)\n```")
	row := regexp.MustCompile(`(?m)^\| \+(\d+) \| ([^|]*?) ?\|`)
	score := regexp.MustCompile(`\*\*Score: (\d+)/100 \((\w+)\)\*\*`)
	for i, c := range chunks {
		if j := strings.Index(c, "\n### "); j >= 0 {
			c = c[:j]
		}
		js := jsonBlock.FindStringSubmatch(c)
		sc := score.FindStringSubmatch(c)
		if js == nil || sc == nil {
			t.Fatalf("example %d lacks a JSON block or a score line", i)
		}
		m, err := Parse([]byte(js[1]))
		if err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		if err := m.Validate("", ValidateOptions{SkipEntry: true, Home: "/home/user"}); err != nil {
			t.Fatalf("example %d is not valid: %v", i, err)
		}
		got := riskWithHome(m, "/home/user")
		rows := row.FindAllStringSubmatch(c, -1)
		if len(rows) != len(got.Reasons) {
			t.Errorf("example %d (%s): doc lists %d reasons, code gives %d: %+v", i, m.Name, len(rows), len(got.Reasons), got.Reasons)
			continue
		}
		for k, r := range rows {
			pts, _ := strconv.Atoi(r[1])
			if pts != got.Reasons[k].Points || strings.TrimSpace(r[2]) != got.Reasons[k].Path {
				t.Errorf("example %d (%s) reason %d: doc +%d at %q, code %+v", i, m.Name, k, pts, r[2], got.Reasons[k])
			}
		}
		if want, _ := strconv.Atoi(sc[1]); got.Value != want || got.Band != sc[2] {
			t.Errorf("example %d (%s): doc says %s/100 (%s), code %s", i, m.Name, sc[1], sc[2], got)
		}
	}
}

func TestRiskEveryFactorMoves(t *testing.T) {
	base := func(perms string, publisher bool) *Manifest {
		src := `{` + head + `, "permissions": [` + perms + `]`
		if publisher {
			src += `, "publisher": {"name": "T", "key_id": "ed25519:21fe31dfa154a261"}`
		}
		m, err := Parse([]byte(src + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	p := func(res string, acts ...string) string {
		return `{"resource": "` + res + `", "actions": ["` + strings.Join(acts, `", "`) + `"], "reason": "r"}`
	}
	zero := riskWithHome(base("", true), "/home/user").Value
	if zero != 0 {
		t.Fatalf("empty manifest scores %d", zero)
	}
	higher := []struct {
		name        string
		lower, more *Manifest
	}{
		{"breadth", base(p("filesystem:~/Documents/Work/a.txt", "read"), true), base(p("filesystem:~/Documents/**", "read"), true)},
		{"glob", base(p("filesystem:~/Documents/Work/a.txt", "read"), true), base(p("filesystem:~/Documents/Work/*.txt", "read"), true)},
		{"wildcard", base(p("filesystem:~/Documents/**", "read"), true), base(p("filesystem:~/**", "read"), true)},
		{"write access", base(p("filesystem:~/Documents/**", "read"), true), base(p("filesystem:~/Documents/**", "read", "write"), true)},
		{"egress", base("", true), base(p("net:https://api.example.com/*", "get"), true)},
		{"process spawn", base("", true), base(p("process:git", "spawn"), true)},
		{"clipboard read", base(p("clipboard", "write"), true), base(p("clipboard", "read", "write"), true)},
		{"combination", base(p("net:https://api.example.com/*", "get"), true),
			base(p("net:https://api.example.com/*", "get")+","+p("filesystem:~/Documents/a.txt", "read"), true)},
		{"missing publisher", base("", true), base("", false)},
	}
	for _, h := range higher {
		lo, hi := riskWithHome(h.lower, "/home/user"), riskWithHome(h.more, "/home/user")
		if hi.Value <= lo.Value {
			t.Errorf("%s does not raise the score: %v -> %v", h.name, lo, hi)
		}
	}
}
