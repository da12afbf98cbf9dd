package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/kiosktest"
	"passkiosk/kiosk/session"
	"passkiosk/kiosk/session/sessiontest"
)

// Event devices stand in as named pipes: the reader treats them alike
// (non-blocking reads through the poller). A write is an input event. The
// test holds each pipe open read-write from before the reader opens it, so
// that the reader never sees end-of-file (a pipe without writers; a real
// device only ends when it is unplugged).
func TestEvdevIdleFollowsEveryDevice(t *testing.T) {
	dir := t.TempDir()
	mkfifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	x := &session.EvdevIdle{Dir: dir, Rescan: time.Millisecond}
	defer x.Close()
	ctx := context.Background()
	if _, err := x.Idle(ctx); kiosk.KindOf(err) != kiosk.KindDevice {
		t.Fatalf("no devices: %v, want a device error", err)
	}

	kbd := mkfifo("event0")
	w, err := os.OpenFile(kbd, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := x.Idle(ctx); err != nil {
		t.Fatalf("with a keyboard: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	before, _ := x.Idle(ctx)
	if before < 50*time.Millisecond {
		t.Fatalf("idle %v before any input, want at least 50ms", before)
	}
	w.Write(make([]byte, 24))
	waitIdleBelow(t, x, before)

	// A device plugged in later is picked up at the next scan.
	time.Sleep(50 * time.Millisecond)
	touch := mkfifo("event1")
	w2, err := os.OpenFile(touch, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	x.Idle(ctx)
	time.Sleep(50 * time.Millisecond)
	before, _ = x.Idle(ctx)
	w2.Write(make([]byte, 24))
	waitIdleBelow(t, x, before)

	// Not a device of ours: ignored.
	if err := os.WriteFile(filepath.Join(dir, "mouse0"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Idle(ctx); err != nil {
		t.Fatal(err)
	}

	// Closed: nothing is opened again.
	x.Close()
	if _, err := x.Idle(ctx); err == nil {
		t.Fatal("Idle answered after Close")
	}
}

func waitIdleBelow(t *testing.T, x *session.EvdevIdle, d time.Duration) {
	t.Helper()
	for guard := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		got, err := x.Idle(context.Background())
		if err == nil && got < d {
			return
		}
		if time.Now().After(guard) {
			t.Fatalf("idle stayed at %v (%v) after input; was %v", got, err, d)
		}
	}
}

// Input seen by any source is input: the shortest idle time wins, a
// failing source is passed over, and only all failing is an error.
func TestAnyInputTakesTheFreshestSource(t *testing.T) {
	clock := kiosktest.NewClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))
	evdev, x11 := sessiontest.NewIdle(clock), sessiontest.NewIdle(clock)
	any := session.AnyInput{evdev, x11}
	ctx := context.Background()

	clock.Advance(2 * time.Minute)
	x11.Input()
	clock.Advance(30 * time.Second)
	if d, err := any.Idle(ctx); err != nil || d != 30*time.Second {
		t.Fatalf("idle %v, %v; want 30s from the source that saw input", d, err)
	}

	x11.Fail(errors.New("display gone"))
	if d, err := any.Idle(ctx); err != nil || d != 150*time.Second {
		t.Fatalf("idle %v, %v; want 2m30s from the source still answering", d, err)
	}

	evdev.Fail(errors.New("no input devices"))
	if _, err := any.Idle(ctx); kiosk.KindOf(err) != kiosk.KindDevice {
		t.Fatalf("every source failing: %v, want a device error", err)
	}
	if _, err := (session.AnyInput{}).Idle(ctx); kiosk.KindOf(err) != kiosk.KindDevice {
		t.Fatalf("no sources: %v, want a device error", err)
	}
}
