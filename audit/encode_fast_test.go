package audit

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The hand-written time and key-order encoders must agree with the standard
// library ones they replace, byte for byte: the canonical encoding is pinned.

func TestAppendTimeMatchesFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(999, 2, 3, 4, 5, 6, 7, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 0, 1, time.FixedZone("x", -7*3600)),
		time.Now(),
	}
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(253402300799+62135596800)-62135596800, r.Int64N(1e9)).In(time.FixedZone("y", r.IntN(86400)-43200)))
	}
	for _, tm := range times {
		got := string(appendTime(nil, tm))
		want := tm.UTC().Format(timeLayout)
		if got != want {
			t.Fatalf("appendTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestSortedKeysMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 20 {
		for range 50 {
			m := map[string]string{}
			for len(m) < n {
				k := string([]byte{byte('a' + r.IntN(26)), byte('0' + r.IntN(10))})[:1+r.IntN(2)]
				m[k] = ""
			}
			var kb [8]string
			got := sortedKeys(m, kb[:0])
			if want := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
				t.Fatalf("sortedKeys(%v) = %v, want %v", m, got, want)
			}
		}
	}
}

func TestAppendStringRuns(t *testing.T) {
	for in, want := range map[string]string{
		"":                  `""`,
		"plain":             `"plain"`,
		"a\"b\\c":           `"a\"b\\c"`,
		"x\ny\x01z\x7f":     "\"x\\ny\\u0001z\x7f\"",
		"é\xffa":            "\"é\uFFFDa\"",
		"tail\t":            `"tail\t"`,
		"\u2028 \U0001F600": "\"\u2028 \U0001F600\"",
	} {
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", in, got, want)
		}
	}
}
