package main

import (
	"context"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
)

// The screens need about 1,500 units across (a paragraph and the key's
// panel): two windows side by side fit a 1920×1080 screen drawn at 0.6
// of the usual scale, 900×960 pixels each. FYNE_SCALE set by the person
// running the demo wins.
const demoFleetScale = "0.6"

var demoFleetWindowSize = fyne.NewSize(1500, 1600)

// runWindows shows the demo fleet's windows in one Fyne app, each joined
// to its terminal, until ctx ends or one of them is closed (which ends
// the demo).
func runWindows(ctx context.Context, ws []*window) error {
	if os.Getenv("FYNE_SCALE") == "" {
		os.Setenv("FYNE_SCALE", demoFleetScale)
	}
	fa := app.NewWithID("passkiosk")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, w := range ws {
		win, u, client, err := w.open(fa)
		if err != nil {
			return err
		}
		win.Resize(demoFleetWindowSize)
		win.SetCloseIntercept(fa.Quit)
		go u.Run(ctx)
		go client.Run(ctx)
		win.Show()
	}
	go func() {
		<-ctx.Done()
		fyne.Do(fa.Quit)
	}()
	fa.Run()
	cancel()
	return ctx.Err()
}
