package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/store"
)

// Shell completion of installed plugins and their tools. It reads the state
// store only (no host, no ledger), and completes nothing when the home
// cannot be read: a completion never creates a home or prints an error.

// installedManifests returns the installed plugins' manifests by name.
func (a *app) installedManifests(ctx context.Context) map[string]*manifest.Manifest {
	dir, err := home.Resolve(a.homeFlag)
	if err != nil || home.CheckPrivate(dir) != nil {
		return nil
	}
	if _, err := os.Stat(store.Path(dir)); err != nil {
		return nil // nothing installed; opening would create the store
	}
	st, err := store.Open(ctx, store.Path(dir))
	if err != nil {
		return nil
	}
	defer st.Close()
	ps, err := st.ListPlugins(ctx)
	if err != nil {
		return nil
	}
	out := make(map[string]*manifest.Manifest, len(ps))
	for _, p := range ps {
		var m manifest.Manifest
		if json.Unmarshal(p.Manifest, &m) == nil {
			out[p.ID] = &m
		}
	}
	return out
}

// completePlugins completes the first argument with installed plugin names.
func (a *app) completePlugins(cmd *cobra.Command, args []string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for n := range a.installedManifests(ctxOf(cmd)) {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completePluginTools completes PLUGIN, then TOOL of that plugin.
func (a *app) completePluginTools(cmd *cobra.Command, args []string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return a.completePlugins(cmd, args)
	}
	if len(args) > 1 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	m := a.installedManifests(ctxOf(cmd))[args[0]]
	if m == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var tools []string
	for _, t := range m.Tools {
		tools = append(tools, t.Name)
	}
	return tools, cobra.ShellCompDirectiveNoFileComp
}
