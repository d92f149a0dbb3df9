package host

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/resource"
)

// checkProtected refuses an install whose manifest asks for, or whose
// grants give, a filesystem pattern that reaches warden's own state (the
// home, its cache, its policy file, the user's other homes; in any
// spelling), and logs each refusal as an install event with a deny. The
// store would refuse the grants too; refusing here names the permission and
// stops before anything is compiled or written.
func (h *Host) checkProtected(ctx context.Context, m *manifest.Manifest, grants []Grant) error {
	var errs []error
	check := func(what, res string, acts []string) {
		pat, err := resource.ParseWith(res, h.resOpts)
		if err != nil {
			return // Validate reports it
		}
		rerr := h.guard.Check(pat)
		if rerr == nil {
			return
		}
		ev := &audit.Event{Time: h.cfg.Now(), Actor: audit.Actor{Plugin: "warden"}, Session: h.session,
			Action: audit.ActionInstall, Resource: "plugin:" + m.Name, Outcome: audit.OutcomeError,
			Decision: audit.Decision{Effect: audit.EffectDeny, By: "warden", Reason: rerr.Error()},
			Error:    &audit.Error{Code: "protected", Message: rerr.Error()},
			Detail: map[string]string{"plugin": m.Name, "version": m.Version, "refused": what,
				"resource": pat.String(), "acts": strings.Join(acts, ",")}}
		if _, aerr := h.ledger.Append(ctx, ev); aerr != nil {
			rerr = errors.Join(rerr, fmt.Errorf("record the refusal: %w", aerr))
		}
		errs = append(errs, fmt.Errorf("%s %q: %w", what, res, rerr))
	}
	for i, p := range m.Permissions {
		check(fmt.Sprintf("permissions[%d]", i), p.Resource, p.Actions)
	}
	for _, g := range grants {
		check("grant", g.Resource, g.Actions)
	}
	if len(errs) > 0 {
		return fmt.Errorf("install %s: %w", m.Name, errors.Join(errs...))
	}
	return nil
}
