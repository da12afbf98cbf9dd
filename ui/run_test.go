package ui

import (
	"context"
	"testing"
	"time"
)

func TestRunStopsWithItsContext(t *testing.T) {
	h := newHarness(t, Options{})
	h.ui.Show(lockView(nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.ui.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
