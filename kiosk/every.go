package kiosk

import (
	"context"
	"log/slog"
	"time"
)

// Every calls fn every d until ctx ends; the first call is after d. It is
// the loop of the appliance's periodic chores (the lock screen's clock,
// the fleet's offline check, the window's fit to its output).
func Every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// OrDefault is v when it is positive, else d: how options take their
// defaults.
func OrDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// LogOr is l, or slog.Default() when an option names no logger.
func LogOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
