package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/kiosk"
)

// enrollChooseScreen: keep the new passkey in this terminal or on a
// security key. Each choice is a large button with a line saying what it
// means.
func (u *UI) enrollChooseScreen(v kiosk.View) fyne.CanvasObject {
	choice := func(label, hint string, ic fyne.Resource, a kiosk.Attachment) fyne.CanvasObject {
		b := button(label, ic, widget.HighImportance, u.act(func() { u.cmds.ChooseAttachment(a) }))
		h := paraW(hint, theme.SizeNameText, widget.MediumImportance, 400, fyne.TextAlignCenter)
		return sized(400, 0, container.NewVBox(sized(400, 96, b), h))
	}
	choices := container.NewHBox(
		choice(u.tr.T("enroll.choose.platform"), u.tr.T("enroll.choose.platform_hint"), theme.ComputerIcon(), kiosk.AttachPlatform),
		sized(24, 0),
		choice(u.tr.T("enroll.choose.roaming"), u.tr.T("enroll.choose.roaming_hint"), securityKeyIcon, kiosk.AttachRoaming),
	)
	if !v.PlatformAvailable {
		// Only a security key can be registered; the engine would refuse
		// the platform choice anyway.
		choices = container.NewHBox(choice(u.tr.T("enroll.choose.roaming"), u.tr.T("enroll.choose.roaming_hint"), securityKeyIcon, kiosk.AttachRoaming))
	}
	items := []fyne.CanvasObject{title(u.tr.T("enroll.choose.title"))}
	if w := u.whoLine(v); w != "" {
		items = append(items, subtitle(w))
	}
	items = append(items, u.noticeBox(u.notice(v), v.PINMinLength), gap(16), container.NewCenter(choices))
	return u.frame(v, true, true, items...)
}

func (u *UI) insertKeyScreen(v kiosk.View) fyne.CanvasObject {
	if v.Reauth {
		return u.reauthInsertKeyScreen(v)
	}
	head := u.tr.T("enroll.insert.title")
	if v.KeyPresent {
		head = u.tr.T("enroll.insert.present")
	}
	return u.frame(v, true, true, icon(securityKeyIcon, 128), title(head), u.noticeBox(u.notice(v), v.PINMinLength))
}

// enrollDoneScreen says it worked, with the engine's suggestion to add a
// backup when there is only one credential. It offers no "add a backup"
// button: kiosk/engine accepts AddBackup only in a session, so the session
// screen offers it (while BackupMissing) instead of a button here that
// would do nothing.
func (u *UI) enrollDoneScreen(v kiosk.View) fyne.CanvasObject {
	items := []fyne.CanvasObject{icon(theme.ConfirmIcon(), 128), title(u.tr.T("enroll.done.title"))}
	n := u.notice(v)
	if n == nil {
		n = &kiosk.Notice{Code: kiosk.NoticeEnrolled, Tries: -1}
	}
	items = append(items, u.noticeBox(n, v.PINMinLength), gap(16))
	// Done returns to where the person came from; the engine decides where
	// that is (lock screen after enrollment with a code, the session after
	// adding a backup).
	items = append(items, row(target(button(u.tr.T("enroll.done.finish"), theme.ConfirmIcon(), widget.HighImportance, u.act(u.cmds.Cancel)), 240)))
	return u.frame(v, true, false, items...)
}
