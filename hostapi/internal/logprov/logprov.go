// Package logprov is the log provider: a plugin's log.write lines, written to
// the host's structured logger with the plugin and instance attached so that
// a plugin cannot pass itself off as another or as the host. It sits under
// hostapi/internal so that nothing outside hostapi can import it.
package logprov

import (
	"context"
	"log/slog"
)

// Levels maps the host API's level names to slog levels.
var Levels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// Write logs message at level for plugin/instance. A nil logger discards.
func Write(ctx context.Context, l *slog.Logger, plugin, instance, level, message string) {
	if l == nil {
		return
	}
	lv, ok := Levels[level]
	if !ok {
		lv = slog.LevelInfo
	}
	if !l.Enabled(ctx, lv) {
		return
	}
	l.LogAttrs(ctx, lv, message, slog.String("plugin", plugin), slog.String("instance", instance), slog.String("source", "plugin"))
}
