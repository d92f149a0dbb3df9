// Package consent is the install consent screen: it shows a person every
// permission a plugin asks for — resource, actions, the author's reason and its
// share of the risk score — and lets them accept all, accept some, or refuse.
//
// The screen reads single key presses from a terminal in raw mode and writes
// ANSI text; both sides sit behind io.Reader and io.Writer so tests can drive
// it through a pseudo-terminal exactly as a person would.
//
// What it does differently from package managers' "Proceed? [y/N]", and why:
// each permission can be refused on its own, nothing is selected until the
// person selects it (Enter with nothing selected refuses), and Ctrl-C or end
// of input refuses — the screen fails closed. An install prompt that defaults
// to yes trains people to press Enter; the grants a plugin gets here are the
// only ones it has until someone runs `warden grant`.
//
// Grants that exist before the screen — given with `warden grant` before the
// install, or carried over from the installed version on an upgrade — are
// shown too, as their own lines under the permissions (Item.Existing). They
// start marked as the caller says (a grant the person pinned to this
// publisher's key, or one the installed version had, starts marked; one given
// for no particular publisher starts cleared), and a line the person leaves
// cleared is a grant removed. Nothing applies to the plugin that this screen
// did not show.
package consent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Errors Ask returns when nothing was accepted.
var (
	// ErrRefused: the person refused the install.
	ErrRefused = errors.New("install refused at the consent screen")
	// ErrInterrupted: Ctrl-C, Ctrl-D or end of input; treated as a refusal.
	ErrInterrupted = errors.New("consent screen interrupted; install refused")
)

// Item is one line on the screen: a permission the manifest asks for, or a
// grant that exists already.
type Item struct {
	Resource string
	Actions  []string
	Reason   string // the author's reason, from the manifest
	Risk     int    // this permission's points of the risk score
	// Existing, when not empty, makes the item a grant that exists before
	// the screen (given before the install, or kept from the installed
	// version), and says so in words, e.g. "your grant 12, given before
	// install for this publisher's key". Existing items come after the
	// permissions asked for in Request.Items and are drawn in a list of
	// their own, with this text in place of a reason.
	Existing string
	// Selected starts an Existing item marked [x]. A permission asked for
	// always starts cleared: the person selects it.
	Selected bool
}

// Request is what the screen shows.
type Request struct {
	Plugin    string
	Version   string
	Publisher string
	KeyID     string
	Trust     string // one line about the signature, e.g. "signed by Acme with a trusted key"
	Risk      int    // total risk score, 0–100
	Band      string // low, medium, high, critical
	// Notes are the parts of the risk score no one permission carries,
	// such as "+20 can read local data (1) and reach the network (2)",
	// shown under the score so that the items' risks and the notes add up.
	Notes []string
	Items []Item
	// Removed are grants this install takes away whatever the person
	// chooses (they lie outside what the new manifest declares), each with
	// Existing saying which grant it is. They are shown, not asked about.
	Removed []Item
}

// Decision is what the person chose: the indexes of Request.Items accepted,
// in order (an Existing item not accepted is a grant the person removed). It
// is returned only with a nil error, and then Accepted is non-empty unless
// the request asked for no new permission.
type Decision struct {
	Accepted []int
}

// Screen runs the consent dialogue over a terminal.
type Screen struct {
	in  io.Reader
	out io.Writer
}

// New returns a screen reading keys from in and drawing on out. in must
// deliver key presses unbuffered (a terminal in raw mode; see MakeRaw).
func New(in io.Reader, out io.Writer) *Screen { return &Screen{in: in, out: out} }

// MakeRaw puts the terminal f into raw mode and returns the function that
// restores it. In raw mode Ctrl-C arrives as a byte instead of a signal, so the
// screen, not the kernel, decides what it means: refuse.
func MakeRaw(f *os.File) (restore func(), err error) {
	st, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("consent screen: put %s in raw mode: %w", f.Name(), err)
	}
	return func() { _ = term.Restore(int(f.Fd()), st) }, nil
}

// Keys the screen understands.
const (
	keyCtrlC = 0x03
	keyCtrlD = 0x04
	keyEsc   = 0x1b
)

// Ask shows req and returns the person's decision, ErrRefused or
// ErrInterrupted. With no items it asks only to confirm or refuse.
func (s *Screen) Ask(ctx context.Context, req Request) (Decision, error) {
	selected := make([]bool, len(req.Items))
	asked := 0 // permissions the manifest asks for, as opposed to existing grants
	for i, it := range req.Items {
		selected[i] = it.Existing != "" && it.Selected
		if it.Existing == "" {
			asked++
		}
	}
	cursor := 0
	msg := ""
	buf := make([]byte, 1)
	var pending []byte // an escape sequence in progress
	for {
		if err := ctx.Err(); err != nil {
			return Decision{}, ErrInterrupted
		}
		s.draw(req, selected, cursor, msg)
		msg = ""
		n, err := s.in.Read(buf)
		if n == 0 {
			if err != nil {
				s.say("\r\nInterrupted: nothing installed.\r\n")
				return Decision{}, ErrInterrupted
			}
			continue
		}
		c := buf[0]
		if len(pending) > 0 || c == keyEsc {
			pending = append(pending, c)
			switch string(pending) {
			case "\x1b", "\x1b[", "\x1bO":
				continue
			case "\x1b[A", "\x1bOA":
				cursor = max(cursor-1, 0)
			case "\x1b[B", "\x1bOB":
				cursor = min(cursor+1, max(len(req.Items)-1, 0))
			}
			pending = nil
			continue
		}
		switch {
		case c == keyCtrlC || c == keyCtrlD:
			s.say("\r\nInterrupted: nothing installed.\r\n")
			return Decision{}, ErrInterrupted
		case c == 'a' || c == 'A':
			all := make([]int, len(req.Items))
			for i := range all {
				all[i] = i
			}
			s.say("\r\nAccepted every permission.\r\n")
			return Decision{Accepted: all}, nil
		case c == 'r' || c == 'R' || c == 'n' || c == 'N' || c == 'q' || c == 'Q':
			s.say("\r\nRefused: nothing installed.\r\n")
			return Decision{}, ErrRefused
		case c >= '1' && c <= '9':
			i := int(c - '1')
			if i < len(req.Items) {
				selected[i] = !selected[i]
				cursor = i
			} else {
				msg = fmt.Sprintf("There is no permission %c.", c)
			}
		case c == ' ' || c == 'x':
			if len(req.Items) > 0 {
				selected[cursor] = !selected[cursor]
			}
		case c == 'j':
			cursor = min(cursor+1, max(len(req.Items)-1, 0))
		case c == 'k':
			cursor = max(cursor-1, 0)
		case c == '\r' || c == '\n':
			var d Decision
			for i, on := range selected {
				if on {
					d.Accepted = append(d.Accepted, i)
				}
			}
			if asked == 0 && len(d.Accepted) == 0 {
				// Nothing new is asked (an upgrade): Enter installs, keeping
				// no grant the person cleared.
				s.say("\r\nInstalling.\r\n")
				return d, nil
			}
			if len(d.Accepted) == 0 {
				s.say("\r\nNothing selected: refused, nothing installed.\r\n")
				return Decision{}, ErrRefused
			}
			s.say(fmt.Sprintf("\r\nAccepted %d of %d permissions.\r\n", len(d.Accepted), len(req.Items)))
			return d, nil
		default:
			msg = "Press a, 1–9, space, Enter, r or Ctrl-C."
		}
	}
}

func (s *Screen) say(text string) { io.WriteString(s.out, text) }

// A reason starts under the resource, after whyPrefix (an existing grant's
// description after notePrefix); its further lines start at the same column.
const (
	whyPrefix  = "         why: "
	notePrefix = "        note: "
	whyIndent  = "              "
)

// lines writes text wrapped under an item, the first line after prefix.
func (s *Screen) lines(b *strings.Builder, text, prefix string) {
	for j, line := range wrap(sanitize(text), s.width()-len(whyIndent)) {
		lead := whyIndent
		if j == 0 {
			lead = prefix
		}
		fmt.Fprintf(b, "%s%s\r\n", lead, line)
	}
}

// width is the terminal's width when out is one, else 80: reasons are
// wrapped to it, since a line the terminal wraps itself loses its indent.
func (s *Screen) width() int {
	if f, ok := s.out.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return max(w, 40)
		}
	}
	return 80
}

// wrap breaks text at spaces into lines of at most width runes; a word
// longer than width gets a line of its own.
func wrap(text string, width int) []string {
	width = max(width, 20)
	var lines []string
	var line []rune
	for _, w := range strings.Fields(text) {
		word := []rune(w)
		if len(line) > 0 && len(line)+1+len(word) > width {
			lines = append(lines, string(line))
			line = line[:0]
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, word...)
	}
	if len(line) > 0 || len(lines) == 0 {
		lines = append(lines, string(line))
	}
	return lines
}

// draw repaints the whole screen. Raw mode turns off output processing, so
// every line ends in "\r\n".
func (s *Screen) draw(req Request, selected []bool, cursor int, msg string) {
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	fmt.Fprintf(&b, "Install %s %s from %s?\r\n", sanitize(req.Plugin), sanitize(req.Version), orUnknown(req.Publisher))
	if req.Trust != "" {
		fmt.Fprintf(&b, "  %s\r\n", sanitize(req.Trust))
	}
	fmt.Fprintf(&b, "  Risk score %d/100 (%s)\r\n", req.Risk, orUnknown(req.Band))
	for _, n := range req.Notes {
		for j, line := range wrap(sanitize(n), s.width()-6) {
			lead := "      "
			if j == 0 {
				lead = "    ! "
			}
			fmt.Fprintf(&b, "%s%s\r\n", lead, line)
		}
	}
	b.WriteString("\r\n")
	asked, existing := 0, 0
	for _, it := range req.Items {
		if it.Existing == "" {
			asked++
		} else {
			existing++
		}
	}
	switch {
	case len(req.Items) == 0:
		b.WriteString("It asks for no permissions.\r\n")
	case asked == 0:
		b.WriteString("It asks for no new permissions.\r\n")
	default:
		fmt.Fprintf(&b, "It asks for %d permission%s:\r\n", asked, plural(asked))
	}
	for i, it := range req.Items {
		if it.Existing != "" && (i == 0 || req.Items[i-1].Existing == "") {
			fmt.Fprintf(&b, "\r\nGrants that exist already (%d); a cleared one is removed:\r\n", existing)
		}
		mark, point := " ", " "
		if selected[i] {
			mark = "x"
		}
		if i == cursor {
			point = ">"
		}
		num := " "
		if i < 9 {
			num = fmt.Sprint(i + 1)
		}
		head, text, prefix := fmt.Sprintf("(risk +%d)", it.Risk), it.Reason, whyPrefix
		switch {
		case it.Existing != "":
			head, text, prefix = "(existing grant)", it.Existing, notePrefix
		case text == "":
			text = "(the author gave no reason)"
		}
		fmt.Fprintf(&b, "%s[%s] %s  %s  %s  %s\r\n", point, mark, num, sanitize(it.Resource), sanitize(strings.Join(it.Actions, ",")), head)
		s.lines(&b, text, prefix)
	}
	if len(req.Removed) > 0 {
		fmt.Fprintf(&b, "\r\nGrants removed, outside what this version declares (%d):\r\n", len(req.Removed))
		for _, it := range req.Removed {
			fmt.Fprintf(&b, "   -    %s  %s\r\n", sanitize(it.Resource), sanitize(strings.Join(it.Actions, ",")))
			s.lines(&b, it.Existing, notePrefix)
		}
	}
	switch {
	case len(req.Items) == 0:
		b.WriteString("\r\n  Enter install · r refuse · Ctrl-C cancel\r\n")
	case asked == 0:
		b.WriteString("\r\n  space or 1-9 keep/clear · ↑/↓ move · a keep all\r\n")
		b.WriteString("  Enter install, keeping the [x] grants (a cleared grant is removed)\r\n")
		b.WriteString("  r refuse · Ctrl-C cancel · both install nothing\r\n")
	default:
		// Say what each key does in words: Enter installs only what is
		// marked [x], and nothing marked means refuse.
		b.WriteString("\r\n  space or 1-9 select/clear · ↑/↓ move · a accept all\r\n")
		if existing > 0 {
			b.WriteString("  Enter install with what is marked [x] (nothing marked: refuse);\r\n")
			b.WriteString("  an existing grant left cleared is removed\r\n")
		} else {
			b.WriteString("  Enter install with the [x] permissions (none marked: refuse)\r\n")
		}
		b.WriteString("  r refuse · Ctrl-C cancel · both install nothing\r\n")
	}
	if msg != "" {
		fmt.Fprintf(&b, "  %s\r\n", msg)
	}
	io.WriteString(s.out, b.String())
}

// sanitize drops control characters from author-supplied text, so a reason
// cannot move the cursor, clear the screen or forge a line of the dialogue,
// and bidirectional controls, so it cannot make text read in another order
// than it is stored (Trojan Source, CVE-2021-42574).
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return -1
		}
		return r
	}, s)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return sanitize(s)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
