package main

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"passkiosk/ui"
	"passkiosk/ui/i18n"
)

// runWindow opens the kiosk window and runs Fyne's loop until ctx ends or
// the window closes.
func runWindow(ctx context.Context, a *appliance, windowed bool) error {
	fa := app.NewWithID("passkiosk")
	fa.Settings().SetTheme(ui.Theme())
	win := fa.NewWindow("passkiosk — " + a.cfg.Terminal)
	opts := ui.Options{Language: uiLanguage(a.log), ProgramName: programName(a)}
	if a.virtual != nil {
		opts.Demo = a.virtual
	}
	u, err := ui.New(win, a.eng, opts)
	if err != nil {
		return err
	}
	if windowed {
		win.Resize(fyne.NewSize(1600, 960))
	} else {
		win.SetFullScreen(true)
	}
	a.attach(u.Show, u.ClearClipboard)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go u.Run(ctx)
	go func() {
		<-ctx.Done()
		fyne.Do(fa.Quit)
	}()
	win.SetCloseIntercept(func() {
		// A kiosk window is closed by stopping the service, not by a
		// person: in the demo it quits.
		if windowed {
			fa.Quit()
		}
	})
	win.ShowAndRun()
	a.detach()
	return ctx.Err()
}

// uiLanguage is the locale's language when there is a translation for it,
// else English: a locale without one (or "C") must not keep the lock
// screen from showing.
func uiLanguage(log *slog.Logger) string {
	locale := cmp.Or(os.Getenv("LC_ALL"), os.Getenv("LC_MESSAGES"), os.Getenv("LANG"))
	if _, err := i18n.Load(locale); err != nil {
		log.Warn("no translation for the locale; showing English", "locale", locale, "have", i18n.Languages())
		return i18n.Default
	}
	return locale
}

func programName(a *appliance) string {
	p := a.eng.Policy().Default.Program
	if len(p) == 0 {
		return ""
	}
	return filepath.Base(p[0])
}
