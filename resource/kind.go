package resource

import (
	"fmt"
	"slices"
	"strings"
)

// Kinds lists every resource kind, sorted. Treat it as read-only.
var Kinds = []Kind{Clipboard, Env, Filesystem, KV, Net, Plugin, Process, Secret}

// actions holds the valid actions per kind, each list sorted. Net actions are
// HTTP methods in lower case (a WebSocket upgrade is a "get").
var actions = map[Kind][]string{
	Filesystem: {"delete", "list", "read", "write"},
	Net:        {"delete", "get", "head", "patch", "post", "put"},
	Clipboard:  {"read", "write"},
	Env:        {"read"},
	Process:    {"spawn"},
	Plugin:     {"call"},
	KV:         {"delete", "list", "read", "write"},
	Secret:     {"read"},
}

// ParseKind returns the Kind named s, or an error listing the valid kinds.
// The match is exact: kinds are lower case.
func ParseKind(s string) (Kind, error) {
	if _, ok := actions[Kind(s)]; ok {
		return Kind(s), nil
	}
	return "", fmt.Errorf("%w %q: valid kinds are %s", ErrUnknownKind, s, kindList())
}

// Actions returns the valid actions for k, sorted, as a new slice; nil for an
// unknown kind.
func Actions(k Kind) []string {
	return slices.Clone(actions[k])
}

// ValidAction reports whether action is one of Actions(k).
func ValidAction(k Kind, action string) bool {
	_, ok := slices.BinarySearch(actions[k], action)
	return ok
}

// CheckActions returns nil when acts is non-empty, holds no duplicates and
// every entry is valid for k. Otherwise the error (wrapping ErrInvalidAction)
// names the first bad entry and lists the valid actions.
func CheckActions(k Kind, acts []string) error {
	valid, ok := actions[k]
	if !ok {
		return fmt.Errorf("%w: unknown resource kind %q; valid kinds are %s", ErrInvalidAction, k, kindList())
	}
	if len(acts) == 0 {
		return fmt.Errorf("%w: no actions given for %s; name at least one of %s", ErrInvalidAction, k, strings.Join(valid, ", "))
	}
	for i, a := range acts {
		if !ValidAction(k, a) {
			return fmt.Errorf("%w %q for %s (actions[%d]); valid actions are %s", ErrInvalidAction, a, k, i, strings.Join(valid, ", "))
		}
		if slices.Contains(acts[:i], a) {
			return fmt.Errorf("%w: %q is listed twice for %s (actions[%d]); list each action once", ErrInvalidAction, a, k, i)
		}
	}
	return nil
}

// ActionsSubset reports whether every action in child is also in parent. An
// empty child is a subset of anything; callers that need at least one action
// check that with CheckActions.
func ActionsSubset(child, parent []string) bool {
	for _, a := range child {
		if !slices.Contains(parent, a) {
			return false
		}
	}
	return true
}
