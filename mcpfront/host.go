package mcpfront

import (
	"context"
	"encoding/json"

	"github.com/wardenproject/warden/host"
)

// FromHost adapts warden's host to the front's Host interface.
func FromHost(h *host.Host) Host { return hostAdapter{h} }

type hostAdapter struct{ h *host.Host }

func (a hostAdapter) Plugins(ctx context.Context) ([]Plugin, error) {
	ps, err := a.h.Plugins(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Plugin, len(ps))
	for i, p := range ps {
		out[i] = Plugin{Name: p.Name, Version: p.Version, Publisher: p.Publisher, State: p.State, Manifest: p.Manifest}
	}
	return out, nil
}

func (a hostAdapter) Invoke(ctx context.Context, plugin, tool string, input json.RawMessage, call Call) (json.RawMessage, error) {
	var opts []host.InvokeOption
	if call.Confirmer != nil {
		opts = append(opts, host.WithConfirmer(call.Confirmer))
	}
	if call.Log != nil {
		opts = append(opts, host.WithLog(call.Log))
	}
	if call.Refused != nil {
		opts = append(opts, host.WithRefusals(call.Refused))
	}
	res, err := a.h.Invoke(ctx, plugin, tool, input, opts...)
	if err != nil {
		return nil, err
	}
	return res.Output, nil
}

func (a hostAdapter) Watch(fn func()) (cancel func()) { return a.h.Watch(fn) }
