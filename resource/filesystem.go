package resource

import (
	"os"
	"path"
	"strconv"
	"strings"
)

// parseFilesystem parses the body of a filesystem pattern: an absolute path
// or one starting with "~", with '*' and "**" globs. off is where body starts
// in input.
func parseFilesystem(input string, off int, body string, o Options) (Pattern, error) {
	home, homeErr := o.home()
	var prefix []string
	switch {
	case body == "~" || strings.HasPrefix(body, "~/"):
		if homeErr != nil {
			return Pattern{}, perr(input, off, ErrNoHome, "cannot expand \"~\": %v; set Options.Home or $HOME, or write an absolute path", homeErr)
		}
		prefix = splitPath(home)
		body = body[1:]
		off++
		if body == "" {
			body = "/"
		}
	case body[0] == '~':
		return Pattern{}, perr(input, off, ErrSyntax, `"~user" is not supported; write "~/..." for your own home or an absolute path`)
	case body[0] != '/':
		return Pattern{}, perr(input, off, ErrSyntax, `relative path; a filesystem pattern must start with "/" or "~/"`)
	}
	segs, err := cleanPath(input, body, off, prefix)
	if err != nil {
		return Pattern{}, err
	}
	p := Pattern{kind: Filesystem, body: joinPath(segs), base: literalBase(segs)}
	p.lit = p.base == p.body
	p.canon = string(Filesystem) + ":" + p.body
	switch {
	case p.base == "/":
		p.wild = "matches paths anywhere from the filesystem root"
	case homeErr == nil && (p.base == home || strings.HasPrefix(home, p.base+"/")):
		p.wild = "covers the whole home directory " + home
	}
	return p, nil
}

// home returns the cleaned home directory, or why there is none.
func (o Options) home() (string, error) {
	h := o.Home
	if h == "" {
		var err error
		if h, err = os.UserHomeDir(); err != nil {
			return "", err
		}
	}
	if !strings.HasPrefix(h, "/") {
		return "", &homeError{h, "is not an absolute path"}
	}
	if strings.IndexByte(h, '*') >= 0 {
		return "", &homeError{h, `contains "*", which patterns reserve for wildcards`}
	}
	if checkText(h) != nil {
		return "", &homeError{h, "contains control characters, invalid UTF-8 or surrounding white space"}
	}
	return path.Clean(h), nil
}

type homeError struct{ home, why string }

func (e *homeError) Error() string { return "home directory " + strconv.Quote(e.home) + " " + e.why }
