package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The screens are made for 1280×768; a smaller output scales them down
// to fit (rounded down to Fyne's tenths), a larger one never up.
func TestFitScale(t *testing.T) {
	for _, tc := range []struct {
		w, h float32
		want float32
	}{
		{1280, 720, 0.9}, // headless wlroots 0.15
		{1280, 768, 1},
		{1920, 1080, 1},
		{1366, 768, 1},
		{1024, 768, 0.8},
		{800, 480, 0.6},
	} {
		if got := fitScale(tc.w, tc.h); got != tc.want {
			t.Errorf("%vx%v: %v, want %v", tc.w, tc.h, got, tc.want)
		}
		if s := fitScale(tc.w, tc.h); designSize.Width*s > tc.w || designSize.Height*s > tc.h {
			t.Errorf("%vx%v: at %v the screens do not fit", tc.w, tc.h, s)
		}
	}
}

// A compositor that goes away is noticed on the window's own connection
// to its socket, at once; stopping the window is not.
func TestWatchDisplayNoticesTheCompositorGoing(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "wayland-0")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("WAYLAND_DISPLAY", "wayland-0")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lost := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchDisplay(ctx, log, func(err error) { lost <- err })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		t.Fatalf("lost while the compositor runs: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	c.Close() // the compositor dies
	ln.Close()
	select {
	case err := <-lost:
		if !errors.Is(err, errDisplayLost) || exitCode(err) == 0 {
			t.Fatalf("lost with %v (exit %d)", err, exitCode(err))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the compositor's end went unnoticed")
	}

	// No compositor at all is lost too; a window stopped on purpose is not.
	os.Remove(sock)
	go watchDisplay(ctx, log, func(err error) { lost <- err })
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("a missing compositor went unnoticed")
	}
	ln2, _ := net.Listen("unix", sock)
	defer ln2.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	go watchDisplay(ctx2, log, func(err error) { lost <- err })
	ln2.Accept()
	cancel2()
	select {
	case err := <-lost:
		t.Fatalf("a stopped window reported %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestWaylandSocketPath(t *testing.T) {
	for _, tc := range []struct{ display, runtime, want string }{
		{"wayland-0", "/run/passkiosk-ui", "/run/passkiosk-ui/wayland-0"},
		{"/run/x/wayland-1", "", "/run/x/wayland-1"},
		{"wayland-0", "", ""},
		{"", "/run/passkiosk-ui", ""},
	} {
		t.Setenv("WAYLAND_DISPLAY", tc.display)
		t.Setenv("XDG_RUNTIME_DIR", tc.runtime)
		if got := waylandSocketPath(); got != tc.want {
			t.Errorf("%q in %q: %q, want %q", tc.display, tc.runtime, got, tc.want)
		}
	}
}
