package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/kiosk"
)

// frame puts a screen's body between the header (terminal name and, unless
// the body shows it large, the clock) and the footer (the countdown of a
// bounded wait and the way back).
func (u *UI) frame(v kiosk.View, withClock, cancel bool, body ...fyne.CanvasObject) fyne.CanvasObject {
	term := widget.NewLabel(v.Terminal)
	term.TextStyle.Bold = true
	var right fyne.CanvasObject
	if withClock {
		c := widget.NewLabel("")
		c.TextStyle.Bold = true
		c.Text = u.addLive(c.SetText, u.clock)
		right = c
	}
	header := container.NewBorder(nil, nil, term, right)

	var foot []fyne.CanvasObject
	if !v.Deadline.IsZero() {
		// Adding a backup during a session (and the proof before it)
		// goes back to the session at zero, not to the lock screen.
		back := "common.back_in"
		if (v.State == kiosk.StateEnrolling || v.Reauth) && v.Session != nil {
			back = "common.back_to_session_in"
		}
		foot = append(foot, u.countdownLabel(back, &v.Deadline))
	}
	if cancel {
		foot = append(foot, target(button(u.tr.T("common.cancel"), theme.CancelIcon(), widget.MediumImportance, u.act(u.cmds.Cancel)), 240))
		u.keys = func(ev *fyne.KeyEvent) {
			if ev.Name == fyne.KeyEscape {
				u.cmds.Cancel()
			}
		}
	}
	footer := row(foot...)
	return container.NewPadded(container.NewBorder(header, footer, nil, nil, column(body...)))
}

// title is a screen's main line.
func title(s string) fyne.CanvasObject {
	return para(s, theme.SizeNameHeadingText, widget.MediumImportance)
}

// subtitle is a secondary line, still large.
func subtitle(s string) fyne.CanvasObject {
	return para(s, theme.SizeNameSubHeadingText, widget.MediumImportance)
}

// body is ordinary text.
func body(s string) fyne.CanvasObject { return para(s, theme.SizeNameText, widget.MediumImportance) }
