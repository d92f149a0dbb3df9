package resource

import "strings"

// This file holds the two glob primitives every kind shares. A glob here has
// exactly one metacharacter, '*', matching any run of bytes (possibly empty);
// every other byte stands for itself. Segment-aware matching ('*' stops at
// '/', '**' crosses it) is built on top in path.go.

// Glob reports whether s is matched by g, where '*' in g matches any run of
// bytes (slashes included) and every other byte matches itself. It is the
// matcher behind env, kv and secret patterns, exported so that other packages
// (policy's plugin and publisher globs) match names the same way.
func Glob(g, s string) bool { return globMatch(g, s) }

// globMatch reports whether s is matched by glob g. It is the classic
// two-pointer algorithm that backtracks only to the most recent '*', so it
// runs in O(len(g)*len(s)) worst case and never allocates.
func globMatch(g, s string) bool {
	gi, si := 0, 0
	starG, starS := -1, 0
	for si < len(s) {
		switch {
		case gi < len(g) && g[gi] == '*':
			starG, starS = gi, si
			gi++
		case gi < len(g) && g[gi] == s[si]:
			gi++
			si++
		case starG >= 0:
			starS++
			si = starS
			gi = starG + 1
		default:
			return false
		}
	}
	for gi < len(g) && g[gi] == '*' {
		gi++
	}
	return gi == len(g)
}

// globCovers reports whether every string matched by glob h is also matched by
// glob g. It looks for an alignment in which each '*' of g absorbs a run of h
// (literals and '*'s alike) and each literal of g meets the same literal of h.
// Such an alignment proves containment, so a true answer is always right; a
// false answer may be conservative for exotic pairs, which only ever denies.
func globCovers(g, h string) bool {
	if strings.IndexByte(h, '*') < 0 {
		return globMatch(g, h)
	}
	if strings.IndexByte(g, '*') < 0 {
		return false // h matches infinitely many strings, g exactly one
	}
	// dp[j] after processing row i means: g[i:] covers h[j:]. Rows are
	// computed from i = len(g) down to 0, two rows at a time.
	var buf [2 * 65]bool
	var next, cur []bool
	if n := len(h) + 1; n <= 65 {
		next, cur = buf[:n], buf[65:65+n]
	} else {
		next, cur = make([]bool, n), make([]bool, n)
	}
	for j := range next {
		next[j] = j == len(h)
	}
	for i := len(g) - 1; i >= 0; i-- {
		if g[i] == '*' {
			cur[len(h)] = next[len(h)]
			for j := len(h) - 1; j >= 0; j-- {
				cur[j] = next[j] || cur[j+1]
			}
		} else {
			cur[len(h)] = false
			for j := len(h) - 1; j >= 0; j-- {
				cur[j] = h[j] != '*' && h[j] == g[i] && next[j+1]
			}
		}
		next, cur = cur, next
	}
	return next[0]
}
