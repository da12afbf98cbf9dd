package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"passkiosk/kiosk"
	"passkiosk/kiosk/uilink"
	"passkiosk/ui"
)

// window is the full-screen kiosk window and its link to the daemon.
type window struct {
	title       string
	windowed    bool // a normal window (the demo), not full screen
	log         *slog.Logger
	language    string
	dial        func(context.Context) (net.Conn, error)
	demo        ui.DemoKeyControl // the demo's key panel, or nil
	programName string
}

// errDisplayLost is the display server going away under the window.
var errDisplayLost = errors.New("the display server's connection is gone")

// exitCode is the process's status for a window that ended with err: any
// failure is non-zero, so the unit restarts the window.
func exitCode(err error) int {
	if errors.Is(err, errDisplayLost) {
		return 3
	}
	return 1
}

// open makes the window, its screens and its link to the daemon, showing
// the waiting screen until the daemon answers.
func (w *window) open(fa fyne.App) (fyne.Window, *ui.UI, *uilink.Client, error) {
	fa.Settings().SetTheme(ui.Theme())
	win := fa.NewWindow(w.title)
	var u *ui.UI
	client := uilink.NewClient(uilink.ClientOptions{
		Dial:           w.dial,
		Show:           func(v kiosk.View) { u.Show(v) },
		Waiting:        func(why string) { u.ShowWaiting(why == "starting") },
		OnHello:        func(h uilink.Hello) { u.SetProgramName(h.ProgramName) },
		ClearClipboard: func(ctx context.Context) error { return u.ClearClipboard(ctx) },
		Log:            w.log.With("part", "window link"),
	})
	u, err := ui.New(win, client, ui.Options{Language: w.language, ProgramName: w.programName, Demo: w.demo})
	if err != nil {
		return nil, nil, nil, err
	}
	if w.windowed {
		win.Resize(fyne.NewSize(1600, 960))
	} else {
		win.SetFullScreen(true)
	}
	u.ShowWaiting(true)
	return win, u, client, nil
}

// run opens the window, connects it to the daemon and runs Fyne's loop
// until ctx ends, the display server goes, or (in the demo) the window is
// closed.
func (w *window) run(ctx context.Context) error {
	if !w.windowed {
		kioskDisplay()
	}
	fa := app.NewWithID("passkiosk")
	win, u, client, err := w.open(fa)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var lost error
	quit := func(err error) {
		mu.Lock()
		if lost == nil {
			lost = err
		}
		mu.Unlock()
		fyne.Do(fa.Quit)
	}
	go u.Run(ctx)
	go client.Run(ctx)
	if !w.windowed {
		go watchDisplay(ctx, w.log, func(err error) { quit(err) })
		go keepFitted(ctx, win, w.log)
	}
	go func() {
		<-ctx.Done()
		fyne.Do(fa.Quit)
	}()
	win.SetCloseIntercept(func() {
		// A kiosk window is closed by stopping its unit, not by a
		// person: in the demo it quits. In full screen a close request
		// is what GLFW sends when the display connection broke; the
		// watch decides.
		if w.windowed {
			fa.Quit()
		}
	})
	win.ShowAndRun()
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if lost != nil {
		return lost
	}
	return ctx.Err()
}
