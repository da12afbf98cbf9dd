package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/kiosk"
)

// sessionScreen is what the kiosk window shows while someone is signed in:
// who, how long is left, sign out, and the remedies (start the program
// again, add a backup).
func (u *UI) sessionScreen(v kiosk.View) fyne.CanvasObject {
	s := v.Session
	if s == nil {
		s = &kiosk.SessionView{ProgramRunning: true}
	}
	items := []fyne.CanvasObject{icon(theme.AccountIcon(), 64), title(u.tr.T("session.signed_in", s.DisplayName))}
	if !s.EndsAt.IsZero() {
		end := s.EndsAt // the screen's own copy: the View is not ours
		l := u.countdownLabel("session.time_left", &end)
		l.Alignment = fyne.TextAlignCenter
		items = append(items, l)
	}
	items = append(items, u.noticeBox(u.notice(v), v.PINMinLength), gap(16))
	if !s.ProgramRunning {
		items = append(items, para(u.tr.T("session.program_closed"), theme.SizeNameSubHeadingText, widget.WarningImportance))
		label := u.tr.T("session.relaunch_default")
		if u.opts.ProgramName != "" {
			label = u.tr.T("session.relaunch", u.opts.ProgramName)
		}
		items = append(items, row(target(button(label, theme.MediaReplayIcon(), widget.HighImportance, u.act(u.cmds.RelaunchProgram)), 360)))
	}
	if s.BackupMissing {
		items = append(items, body(u.tr.T("session.backup_hint")),
			row(target(button(u.tr.T("session.add_backup"), theme.ContentAddIcon(), widget.MediumImportance, u.act(u.cmds.AddBackup)), 300)))
	}
	items = append(items, gap(8), row(sized(360, 80, button(u.tr.T("session.sign_out"), theme.LogoutIcon(), widget.DangerImportance, u.act(u.cmds.SignOut)))))
	switch {
	case s.TapToSignOut:
		items = append(items, para(u.tr.T("session.tap_to_sign_out"), theme.SizeNameSubHeadingText, widget.MediumImportance))
	case s.TapUnavailable:
		items = append(items, para(u.tr.T("session.tap_unavailable"), theme.SizeNameSubHeadingText, widget.WarningImportance))
	}
	return u.frame(v, true, false, items...)
}

// idleScreen warns that the session is about to end for inactivity. A tap
// anywhere or any key answers it.
func (u *UI) idleScreen(v kiosk.View) fyne.CanvasObject {
	end := v.Deadline
	if v.Session != nil && !v.Session.IdleEndsAt.IsZero() {
		end = v.Session.IdleEndsAt
	}
	still := func() { u.cmds.StillHere() }
	u.keys = func(*fyne.KeyEvent) { still() }
	u.runes = func(rune) { still() }
	content := u.frame(kiosk.View{Terminal: v.Terminal}, true, false,
		icon(theme.WarningIcon(), 128),
		title(u.tr.T("idle.title")),
		subtitle(u.tr.T("idle.countdown")),
		u.liveBigText(sizeCountdown, timeLeft(end)),
		gap(16),
		para(u.tr.T("idle.tap"), theme.SizeNameSubHeadingText, widget.WarningImportance))
	return container.NewStack(content, newTapCatcher(u.act(still)))
}

// endingScreen shows while a session ends and its wipe runs. It offers no
// Cancel: the wipe is not a wait anyone may abandon, and the lock screen
// follows by itself.
func (u *UI) endingScreen(v kiosk.View) fyne.CanvasObject {
	return u.frame(kiosk.View{Terminal: v.Terminal}, true, false,
		icon(theme.LogoutIcon(), 128), title(u.tr.T("ending.title")), u.noticeBox(u.notice(v), v.PINMinLength))
}

// outOfServiceScreen offers nothing to press: only IT can fix it.
func (u *UI) outOfServiceScreen(v kiosk.View) fyne.CanvasObject {
	items := []fyne.CanvasObject{icon(theme.ErrorIcon(), 128), para(u.tr.T("oos.title"), theme.SizeNameHeadingText, widget.DangerImportance)}
	if v.OutOfService != "" {
		items = append(items, subtitle(u.tr.T("oos.reason", v.OutOfService)))
	}
	if u.opts.HelpContact != "" {
		items = append(items, subtitle(u.tr.T("oos.contact", u.opts.HelpContact)))
	}
	return u.frame(v, true, false, items...)
}
