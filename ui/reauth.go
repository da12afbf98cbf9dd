package ui

import (
	"time"

	"fyne.io/fyne/v2"

	"passkiosk/kiosk"
)

// The proof before a backup (View.Reauth): the engine asks the person in
// the session for their current PIN, their fingerprint or a touch of a
// key registered to them, on the ordinary PIN pad, fingerprint and touch
// screens; these say what the proof is for, so nobody mistakes it for a
// sign-in, and the insert-key screen asks for a key they already have
// rather than one to register.

// reauthLine is the line under the prompt's title during the proof.
func (u *UI) reauthLine(v kiosk.View) string {
	return u.tr.T("reauth.for", v.Who)
}

// reauthInsertKeyScreen asks for a security key registered to the person.
func (u *UI) reauthInsertKeyScreen(v kiosk.View) fyne.CanvasObject {
	return u.frame(v, true, true, icon(securityKeyIcon, 128), title(u.tr.T("reauth.insert.title")),
		subtitle(u.reauthLine(v)), u.noticeBox(u.notice(v), v.PINMinLength))
}

// backupNotConfirmedText says that no backup was added, and why in the
// words the person needs: nothing when they cancelled, the wait after
// too many failures.
func (u *UI) backupNotConfirmedText(key string, n *kiosk.Notice, now time.Time) string {
	switch {
	case n.Kind == kiosk.KindCancelled:
		return u.tr.T(key + "_cancelled")
	case n.Kind == kiosk.KindNotAllowed:
		return u.tr.T(key + "_fleet")
	case !n.Until.IsZero() && n.Until.After(now):
		return u.tr.T(key+"_until", countdown(now, n.Until))
	}
	return u.tr.T(key)
}
