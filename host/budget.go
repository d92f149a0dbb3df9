package host

// The budgets of invocations: each invocation gets a fresh hostapi.Budget
// (its manifest's limits, capped by the policy), drawing also on its
// plugin's Meter (the policy's plugin_budget), which all the plugin's
// invocations share, so that running many at once does not multiply what a
// plugin may write, audit or log.

import (
	"strconv"
	"strings"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/policy"
)

// quotaOf is one invocation's budget: the manifest's limits (or their
// defaults), each capped by the policy.
func quotaOf(l manifest.Limits, p *policy.Policy) hostapi.Quota {
	l = l.Effective()
	capBy := func(v, c int) int64 {
		if c > 0 && c < v {
			return int64(c)
		}
		return int64(v)
	}
	return hostapi.Quota{
		WriteBytes: capBy(l.MaxWriteBytes, p.MaxWriteBytes),
		Events:     capBy(l.MaxEvents, p.MaxEvents),
		LogBytes:   capBy(l.MaxLogBytes, p.MaxLogBytes),
	}
}

// meter returns the plugin's Meter, made on first use from the policy's
// plugin_budget; it runs on the gate's clock (Config.Now). It outlives upgrades and reloads of the plugin: the budget
// belongs to the plugin's name, not to one of its loads.
func (h *Host) meter(plugin string) *hostapi.Meter {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.meters[plugin]
	if m == nil {
		b := h.pol.PluginBudget
		m = hostapi.NewMeter(hostapi.PluginQuota{Window: b.Window, Quota: hostapi.Quota{
			WriteBytes: int64(b.WriteBytes), Events: int64(b.Events), LogBytes: int64(b.LogBytes),
		}})
		h.meters[plugin] = m
	}
	return m
}

// noteBudget adds to an invocation's tool.invoke event what its budget
// refused, when it refused anything: which bounds were hit (each has its
// own summary event), what was spent and how much was refused after.
func noteBudget(ev *audit.Event, b *hostapi.Budget) {
	if b == nil {
		return
	}
	u := b.Usage()
	if len(u.Hit) == 0 {
		return
	}
	ev.Detail = map[string]string{
		"budget_hit":     strings.Join(u.Hit, ","),
		"events":         strconv.FormatInt(u.Events, 10),
		"written":        strconv.FormatInt(u.WriteBytes, 10),
		"log_bytes":      strconv.FormatInt(u.LogBytes, 10),
		"budget_refused": strconv.FormatInt(u.Refused, 10),
	}
}
