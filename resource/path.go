package resource

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is the segment-glob engine shared by filesystem patterns and the
// path part of net patterns. A pattern path is "/" followed by segments joined
// with "/"; a segment is a literal, a glob containing '*' (which never matches
// '/'), or exactly "**" (zero or more whole segments). Every pattern is closed
// downwards: it matches a path when it matches the path or any ancestor of it,
// as if it ended in an implicit "/**".

// cleanPath turns body (which starts with '/') into canonical segments: empty
// and "." segments are dropped, ".." removes the segment before it, runs of
// "**" collapse, and trailing "**" segments are dropped (they add nothing to
// the implicit one). prefix is prepended first (the home directory for "~").
// off is the byte offset of body in input, for errors.
func cleanPath(input, body string, off int, prefix []string) ([]string, error) {
	segs := append([]string(nil), prefix...)
	i := 0
	for i < len(body) {
		for i < len(body) && body[i] == '/' {
			i++
		}
		start := i
		for i < len(body) && body[i] != '/' {
			i++
		}
		seg := body[start:i]
		switch {
		case seg == "" || seg == ".":
			continue
		case seg == "..":
			if len(segs) == 0 {
				return nil, perr(input, off+start, ErrEscapesRoot, `".." climbs above the root "/"; remove it or write the absolute path it means`)
			}
			if strings.IndexByte(segs[len(segs)-1], '*') >= 0 {
				return nil, perr(input, off+start, ErrSyntax, `".." after a wildcard segment %q is ambiguous; write the directory it means`, segs[len(segs)-1])
			}
			segs = segs[:len(segs)-1]
		case seg == "**":
			if len(segs) == 0 || segs[len(segs)-1] != "**" {
				segs = append(segs, seg)
			}
		case strings.Contains(seg, "**"):
			return nil, perr(input, off+start+strings.Index(seg, "**"), ErrSyntax, `"**" must be a whole path segment (as in /a/**/b); inside %q use a single "*"`, seg)
		default:
			if r, _ := utf8.DecodeRuneInString(seg); unicode.IsSpace(r) {
				return nil, perr(input, off+start, ErrSyntax, "path segment %q starts with white space; such names are confusable and usually a typo", seg)
			}
			if r, n := utf8.DecodeLastRuneInString(seg); unicode.IsSpace(r) {
				return nil, perr(input, off+i-n, ErrSyntax, "path segment %q ends with white space; such names are confusable and usually a typo", seg)
			}
			segs = append(segs, seg)
		}
	}
	for len(segs) > 0 && segs[len(segs)-1] == "**" {
		segs = segs[:len(segs)-1]
	}
	return segs, nil
}

func joinPath(segs []string) string {
	return "/" + strings.Join(segs, "/")
}

// literalBase returns the longest prefix of segs with no glob, as a path.
func literalBase(segs []string) string {
	n := 0
	for n < len(segs) && strings.IndexByte(segs[n], '*') < 0 {
		n++
	}
	return joinPath(segs[:n])
}

// splitPath splits a canonical path into its segments; "/" has none.
func splitPath(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// isCleanAbs reports whether s is an absolute path already in the form
// filepath.Clean would give: it starts with '/', has no empty, "." or ".."
// segment, no trailing '/' (except "/" itself) and no NUL byte.
func isCleanAbs(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	if len(s) == 1 {
		return true
	}
	// A few vectorised substring searches beat one byte loop on the hot path.
	if s[len(s)-1] == '/' || strings.IndexByte(s, 0) >= 0 || strings.Contains(s, "//") {
		return false
	}
	if strings.Contains(s, "/.") {
		if strings.Contains(s, "/./") || strings.Contains(s, "/../") || strings.HasSuffix(s, "/.") || strings.HasSuffix(s, "/..") {
			return false
		}
	}
	return true
}

// nextSeg returns the segment of s starting at i and the index where the one
// after it starts. An index past len(s) means no segment is left.
func nextSeg(s string, i int) (seg string, next int) {
	j := strings.IndexByte(s[i:], '/')
	if j < 0 {
		return s[i:], len(s) + 1
	}
	return s[i : i+j], i + j + 1
}

func firstSeg(s string) int {
	if s == "/" {
		return 2 // past the end: no segments
	}
	return 1
}

func segMatch(pseg, seg string) bool {
	if strings.IndexByte(pseg, '*') < 0 {
		return pseg == seg
	}
	return globMatch(pseg, seg)
}

// matchPath reports whether the canonical pattern path pat matches the clean
// absolute path p (or an ancestor of it). It backtracks only to the latest
// "**", like globMatch does for '*', and never allocates.
func matchPath(pat, p string) bool {
	pi, xi := firstSeg(pat), firstSeg(p)
	starPi, starXi := -1, 0
	for {
		if pi > len(pat) {
			return true // pattern used up: the implicit trailing "/**" takes the rest
		}
		pseg, pn := nextSeg(pat, pi)
		if pseg == "**" {
			starPi, starXi = pn, xi
			pi = pn
			continue
		}
		if xi > len(p) {
			return false // a literal or glob segment is left but the path is used up
		}
		xseg, xn := nextSeg(p, xi)
		if segMatch(pseg, xseg) {
			pi, xi = pn, xn
			continue
		}
		if starPi < 0 || starXi > len(p) {
			return false
		}
		_, starXi = nextSeg(p, starXi)
		pi, xi = starPi, starXi
	}
}

// segCovers reports whether every segment matched by the non-"**" segment q
// is matched by the non-"**" segment p.
func segCovers(p, q string) bool {
	if strings.IndexByte(p, '*') < 0 {
		return p == q && strings.IndexByte(q, '*') < 0
	}
	return globCovers(p, q)
}

// coverPath reports whether pattern path p contains pattern path q: every
// path q matches, p matches. Like globCovers it searches for an alignment of
// the segments (each "**" of p absorbing a run of q's segments, every other
// segment of p covering exactly one non-"**" segment of q), with both paths
// extended by their implicit trailing "**". Sound; possibly conservative.
func coverPath(p, q string) bool {
	ps := append(splitPath(p), "**")
	qs := append(splitPath(q), "**")
	next := make([]bool, len(qs)+1)
	cur := make([]bool, len(qs)+1)
	next[len(qs)] = true
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i] == "**" {
			cur[len(qs)] = next[len(qs)]
			for j := len(qs) - 1; j >= 0; j-- {
				cur[j] = next[j] || cur[j+1]
			}
		} else {
			cur[len(qs)] = false
			for j := len(qs) - 1; j >= 0; j-- {
				cur[j] = qs[j] != "**" && next[j+1] && segCovers(ps[i], qs[j])
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// underPath reports whether the clean path p is dir or lies below it; it is
// matchPath for a pattern path without wildcards.
func underPath(dir, p string) bool {
	if dir == "/" {
		return true
	}
	return strings.HasPrefix(p, dir) && (len(p) == len(dir) || p[len(dir)] == '/')
}

// pathContains is coverPath with an exact fast path for a literal p: a
// pattern q lies within a literal directory exactly when q's own text starts
// with it, because any glob or "**" in that leading stretch of q would match
// some other name there.
func pathContains(p string, pLiteral bool, q string) bool {
	if pLiteral {
		return underPath(p, q)
	}
	return coverPath(p, q)
}
