package resource

// Touches reports whether the filesystem pattern p reaches into the tree at
// abs, a clean absolute path: whether p matches abs, an ancestor of abs
// (and so, being closed downwards, all of the tree) or anything below it.
// It is the question "could a grant of p touch anything in there?", which
// warden asks of its own state directories before a grant is made. Every
// remaining segment of p can be completed by some name, so the answer is
// exact. A pattern of another kind, or a path that is not clean, touches
// nothing.
func (p Pattern) Touches(abs string) bool {
	if p.kind != Filesystem || !isCleanAbs(abs) {
		return false
	}
	if p.lit {
		return underPath(p.body, abs) || underPath(abs, p.body)
	}
	return touchPath(p.body, abs)
}

// touchPath runs the pattern's segments as a nondeterministic automaton over
// the segments of p: a state is how many pattern segments are consumed. A
// state that consumed them all matched p or an ancestor; any state still
// alive when p is used up can be completed by a path below p.
func touchPath(pat, p string) bool {
	ps := splitPath(pat)
	cur := make([]bool, len(ps)+1)
	next := make([]bool, len(ps)+1)
	cur[0] = true
	closeStars(ps, cur)
	for _, seg := range splitPath(p) {
		if cur[len(ps)] {
			return true
		}
		clear(next)
		alive := false
		for i, on := range cur[:len(ps)] {
			if !on {
				continue
			}
			switch {
			case ps[i] == "**":
				next[i], alive = true, true
			case segMatch(ps[i], seg):
				next[i+1], alive = true, true
			}
		}
		if !alive {
			return false
		}
		closeStars(ps, next)
		cur, next = next, cur
	}
	return true
}

// closeStars lets every "**" match zero segments: a state before one is
// also a state after it.
func closeStars(ps []string, st []bool) {
	for i, s := range ps {
		if st[i] && s == "**" {
			st[i+1] = true
		}
	}
}
