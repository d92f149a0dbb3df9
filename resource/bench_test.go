package resource

import "testing"

var sinkBool bool

func BenchmarkMatchPath(b *testing.B) {
	cases := []struct{ name, pat, path string }{
		{"literal", "filesystem:/home/u/Documents/Spreadsheets", "/home/u/Documents/Spreadsheets/2026/q1/report.xlsx"},
		{"glob", "filesystem:/home/u/**/Spreadsheets/*.xlsx", "/home/u/Documents/work/Spreadsheets/report.xlsx"},
		{"miss", "filesystem:/home/u/Documents/Spreadsheets", "/home/u/.ssh/id_ed25519"},
	}
	for _, c := range cases {
		p := mp(b, c.pat)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = p.MatchPath(c.path)
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	p := mp(b, "net:https://api.example.com/v1")
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = p.Match("net:https://api.example.com/v1/items/42?q=1")
	}
}

func BenchmarkContains(b *testing.B) {
	cases := []struct{ name, p, q string }{
		{"fs-literal", "filesystem:/home/u/Documents", "filesystem:/home/u/Documents/Spreadsheets"},
		{"fs-glob", "filesystem:/home/u/**/*.csv", "filesystem:/home/u/Documents/**/q*.csv"},
		{"net", "net:https://*.example.com/v1", "net:https://api.example.com/v1/items"},
		{"plugin", "plugin:acme.sheets#*", "plugin:acme.sheets#render"},
	}
	for _, c := range cases {
		p, q := mp(b, c.p), mp(b, c.q)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = p.Contains(q)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	cases := []struct{ name, s string }{
		{"fs", "filesystem:~/Documents/Spreadsheets/**/*.xlsx"},
		{"net", "net:https://api.example.com:8443/v1/items"},
		{"plugin", "plugin:acme.sheets#render"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseWith(c.s, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
