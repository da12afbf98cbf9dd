package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"fyne.io/fyne/v2"

	"passkiosk/kiosk"
)

// waylandSocketPath is the compositor's socket this process was given
// (WAYLAND_DISPLAY, relative to XDG_RUNTIME_DIR unless absolute), or "".
func waylandSocketPath() string {
	name := os.Getenv("WAYLAND_DISPLAY")
	if name == "" {
		return ""
	}
	if filepath.IsAbs(name) {
		return name
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

// watchDisplay holds a connection of its own to the Wayland compositor and
// calls lost when the compositor closes it: the compositor is gone. GLFW
// notices too, but in full screen the close request it makes of that is
// ignored, and the window would outlive the compositor on a dead screen
// while its unit looks healthy. The connection only listens: a client
// that sends no request receives nothing (Wayland has no server pings
// without a request), so a read returns only when the socket closes.
func watchDisplay(ctx context.Context, log *slog.Logger, lost func(error)) {
	path := waylandSocketPath()
	if path == "" {
		return
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		log.Error("the compositor's socket does not answer", "socket", path, "err", err)
		lost(errDisplayLost)
		return
	}
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	buf := make([]byte, 256)
	for {
		if _, err := c.Read(buf); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("the compositor has gone; ending so that the window's unit starts it again", "socket", path, "err", err)
			lost(errDisplayLost)
			return
		}
	}
}

// kioskDisplay prepares the process for full screen under a Wayland
// compositor, before any GL. Mesa's EGL on Wayland waits in every buffer
// swap for the compositor's frame callback, and headless cage 0.1.4
// (wlroots 0.15) drops frames whose output test fails ("Basic output
// test failed for HEADLESS-1", dozens in the first seconds) and then
// sends no callback until something else is drawn: Fyne's draw loop hung
// in the swap and the waiting screen stayed over a lock screen already
// built. vblank_mode=0 is Mesa's own switch for a swap that does not
// wait for the callback.
func kioskDisplay() {
	if os.Getenv("vblank_mode") == "" {
		os.Setenv("vblank_mode", "0")
	}
}

// designSize is the smallest display the screens are made for (ui's
// TestEveryScreenFitsTheSmallestDisplay): 1280×768 at scale 1.
var designSize = fyne.NewSize(1280, 768)

// fitScale is the canvas scale at which designSize fits an output of
// px pixels: the current one when it fits, else smaller, never larger
// than 1 (a bigger output gets more room, not bigger buttons).
func fitScale(pxW, pxH float32) float32 {
	s := min(1, pxW/designSize.Width, pxH/designSize.Height)
	// Fyne rounds a canvas scale to a tenth; round down, so that the
	// screen fits after Fyne's rounding too.
	return float32(math.Floor(float64(s)*10+1e-3) / 10)
}

// keepFitted keeps the screen laid out and drawn to the output it is
// given. Two bugs of the Wayland build meet here. GLFW resizes its EGL
// window when the compositor configures it, but Mesa applies a new size
// only to the buffer after the next one drawn, and Fyne draws only when
// something changed: the screen stayed at its first size in a corner of
// the output until a pointer event made Fyne draw again. And an output
// smaller than designSize (headless wlroots 0.15 is 1280×720) drew the
// screen 106 px off, with clicks landing elsewhere. Every fitEvery, on
// Fyne's goroutine, it scales the canvas so designSize fits the output,
// and after any change of size or scale draws the whole screen again a
// few times, so the buffer of the new size is the one shown.
func keepFitted(ctx context.Context, win fyne.Window, log *slog.Logger) {
	var f fitter
	kiosk.Every(ctx, fitEvery, func() { fyne.Do(func() { f.fit(win, log) }) })
}

const fitEvery = 200 * time.Millisecond

// fitter remembers what the window looked like at the last look.
type fitter struct {
	size    fyne.Size
	scale   float32
	redraws int // full redraws still to do after a change
	ticks   int
}

// repaintEvery (in fitEvery ticks) draws the screen again once a second
// even when nothing changed. It was added when screenshots of headless
// cage 0.1.4 showed an old screen for seconds; measured since (README,
// "Screenshots of the Wayland window"), the window commits every frame
// and the output holds the newest one: the screenshots, not the screen,
// lag behind, and a new frame each second lets them catch up. Drawing a
// static screen again costs a few milliseconds of llvmpipe a second.
const repaintEvery = 5

// fit is one look at the window (keepFitted).
func (f *fitter) fit(win fyne.Window, log *slog.Logger) {
	c := win.Canvas()
	size, scale := c.Size(), c.Scale()
	if size.Width <= 0 || size.Height <= 0 || scale <= 0 {
		return
	}
	pxW, pxH := size.Width*scale, size.Height*scale
	if want := fitScale(pxW, pxH); math.Abs(float64(want-scale)) >= 0.05 {
		// The canvas scale is FYNE_SCALE times what the system asks,
		// and on Wayland the system asks for 1 (the compositor scales
		// buffers instead). FYNE_SCALE is read again on every settings
		// change; setting the theme again is one.
		log.Info("scaling the screen to fit the output", "output_px", fmt.Sprintf("%.0fx%.0f", pxW, pxH), "scale", fmt.Sprintf("%.1f", want))
		os.Setenv("FYNE_SCALE", strconv.FormatFloat(float64(want), 'f', 1, 32))
		fyne.CurrentApp().Settings().SetTheme(fyne.CurrentApp().Settings().Theme())
		return
	}
	if size != f.size || scale != f.scale {
		f.size, f.scale, f.redraws = size, scale, 3
	}
	content := win.Content()
	if content == nil {
		return
	}
	if content.Size() != size {
		content.Resize(size)
	}
	f.ticks++
	if f.redraws > 0 || f.ticks%repaintEvery == 0 {
		f.redraws = max(0, f.redraws-1)
		c.Refresh(content)
	}
}
