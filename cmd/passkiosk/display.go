package main

import (
	"context"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
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

// designSize is the smallest display the screens are made for (ui's
// TestEveryScreenFitsTheSmallestDisplay): 1280×768 at scale 1.
var designSize = fyne.NewSize(1280, 768)

// fitScale is the canvas scale at which designSize fits an output of
// px pixels: the current one when it fits, else smaller, never larger
// than 1 (a bigger output gets more room, not bigger buttons).
func fitScale(pxW, pxH float32) float32 {
	s := min(1, pxW/designSize.Width, pxH/designSize.Height)
	// Round down to a hundredth, so a fit never overshoots by rounding.
	return float32(math.Floor(float64(s)*100) / 100)
}

// keepFitted keeps the screen laid out to the output it is given. The
// Wayland build of GLFW reports a new size (the compositor's configure)
// without Fyne laying the content out again until the next pointer event,
// so the screen sat in a corner of a larger output; and an output smaller
// than designSize (headless wlroots 0.15 is 1280×720) drew the screen
// 106 px off with clicks landing elsewhere. Every fitEvery, on Fyne's
// goroutine, it scales the canvas so designSize fits the output and lays
// the content out to the canvas's size when they differ.
func keepFitted(ctx context.Context, win fyne.Window, log *slog.Logger) {
	t := time.NewTicker(fitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fyne.Do(func() { fit(win, log) })
		}
	}
}

const fitEvery = 250 * time.Millisecond

// fit is one look at the window's size (keepFitted).
func fit(win fyne.Window, log *slog.Logger) {
	c := win.Canvas()
	size, scale := c.Size(), c.Scale()
	if size.Width <= 0 || size.Height <= 0 || scale <= 0 {
		return
	}
	pxW, pxH := size.Width*scale, size.Height*scale
	if want := fitScale(pxW, pxH); math.Abs(float64(want-scale)) >= 0.01 && (want < scale || scale < 1) {
		// FYNE_SCALE is read again on every settings change; setting
		// the theme again is one.
		user := float32(1)
		if v, err := strconv.ParseFloat(os.Getenv("FYNE_SCALE"), 32); err == nil && v > 0 {
			user = float32(v)
		}
		next := user * want / scale
		log.Info("scaling the screen to fit the output", "output_px", fyne.NewSize(pxW, pxH), "scale", want)
		os.Setenv("FYNE_SCALE", strconv.FormatFloat(float64(next), 'f', 3, 32))
		fyne.CurrentApp().Settings().SetTheme(fyne.CurrentApp().Settings().Theme())
		return
	}
	if content := win.Content(); content != nil && content.Size() != size {
		content.Resize(size)
		c.Refresh(content)
	}
}
