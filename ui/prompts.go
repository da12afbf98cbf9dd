package ui

import (
	"crypto/subtle"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/kiosk"
)

// padTextWidth is the width of the text column beside the PIN pad.
const padTextWidth = 600

// padScreen puts the words, the notice and the dots on the left and the
// keys on the right, so the pad fits a landscape panel of 768 px.
func (u *UI) padScreen(v kiosk.View, head, sub string) fyne.CanvasObject {
	left := container.NewVBox(paraW(head, theme.SizeNameHeadingText, widget.MediumImportance, padTextWidth, fyne.TextAlignCenter))
	if sub != "" {
		left.Add(paraW(sub, theme.SizeNameSubHeadingText, widget.MediumImportance, padTextWidth, fyne.TextAlignCenter))
	}
	left.Add(u.noticeBoxW(u.notice(v), v.PINMinLength, padTextWidth))
	u.pad.SetMin(v.PINMinLength)
	left.Add(u.pad.display)
	u.focus = u.pad
	// The row is as high as the words with the longest notice, and the
	// keys sit in its middle at their own size: a notice coming or going
	// moves the words, never the keys under a finger.
	keys := container.NewCenter(u.pad)
	return u.frame(v, true, true, sized(0, padRowHeight, container.NewHBox(container.NewCenter(left), sized(32, 0), keys)))
}

// padRowHeight holds the words beside the pad with a notice of three lines
// in every language (TestPINPadKeysStayPut).
const padRowHeight = 520

// whoLine says whom the prompt is for: signing in, or setting up a new
// credential (the same prompts serve enrollment).
func (u *UI) whoLine(v kiosk.View) string {
	switch {
	case v.Who == "":
		return ""
	case v.Reauth:
		return u.reauthLine(v)
	case v.State == kiosk.StateEnrolling:
		return u.tr.T("pin.enrolling_for", v.Who)
	}
	return u.tr.T("pin.for", v.Who)
}

// pinScreen asks for the PIN of the key or of the platform passkey.
func (u *UI) pinScreen(v kiosk.View) fyne.CanvasObject {
	return u.padScreen(v, u.tr.T("pin.title"), u.whoLine(v))
}

// newPINScreen asks for a new PIN twice and compares the two here, so a
// typo is caught before anything is registered; the engine checks again.
func (u *UI) newPINScreen(v kiosk.View) fyne.CanvasObject {
	head := u.tr.T("newpin.title")
	if u.newPIN != nil {
		head = u.tr.T("newpin.again")
	}
	// The pad itself says how long the PIN must be.
	return u.padScreen(v, head, "")
}

// padSubmit is OK or Enter on the PIN pad.
func (u *UI) padSubmit() {
	v := u.view
	if u.pad.Len() == 0 {
		return
	}
	if u.pad.Len() < v.PINMinLength {
		u.pad.Clear()
		u.localNotice = &kiosk.Notice{Code: kiosk.NoticePINTooShort, Tries: -1}
		u.redraw()
		return
	}
	switch v.Prompt {
	case kiosk.PromptPIN:
		u.cmds.EnterPIN(u.pad.Take())
	case kiosk.PromptNewPIN:
		if u.newPIN == nil {
			u.newPIN = u.pad.Take()
			u.localNotice = nil
			u.redraw()
			return
		}
		again := u.pad.Take()
		same := subtle.ConstantTimeCompare(again, u.newPIN) == 1
		zero(again)
		pin := u.newPIN
		u.newPIN = nil
		if !same {
			zero(pin)
			u.localNotice = &kiosk.Notice{Code: kiosk.NoticePINMismatch, Tries: -1}
			u.redraw()
			return
		}
		u.localNotice = nil
		u.cmds.EnterPIN(pin)
	}
}

func (u *UI) fingerprintScreen(v kiosk.View) fyne.CanvasObject {
	return u.askKeyScreen(v, fingerprintIcon, "fingerprint")
}

func (u *UI) touchScreen(v kiosk.View) fyne.CanvasObject {
	return u.askKeyScreen(v, securityKeyIcon, "touch")
}

// askKeyScreen asks for something done on the key itself (a finger on its
// sensor, a touch): what, for whom, and how it went last time. The
// translations are under the key's own prefix (prefix.title, prefix.hint).
func (u *UI) askKeyScreen(v kiosk.View, res fyne.Resource, prefix string) fyne.CanvasObject {
	items := []fyne.CanvasObject{icon(res, 128), title(u.tr.T(prefix + ".title"))}
	if w := u.whoLine(v); w != "" {
		items = append(items, subtitle(w))
	}
	items = append(items, body(u.tr.T(prefix+".hint")), u.noticeBox(u.notice(v), v.PINMinLength))
	return u.frame(v, true, true, items...)
}

// accountsScreen lets the person pick which of the key's accounts is them.
func (u *UI) accountsScreen(v kiosk.View) fyne.CanvasObject {
	list := container.NewVBox()
	for _, a := range v.Accounts {
		idx := a.Index
		label := a.DisplayName
		if a.Name != "" && a.Name != a.DisplayName {
			label = fmt.Sprintf("%s  (%s)", a.DisplayName, a.Name)
		}
		b := button(label, theme.AccountIcon(), widget.MediumImportance, u.act(func() { u.cmds.ChooseAccount(idx) }))
		b.Alignment = widget.ButtonAlignLeading
		list.Add(sized(640, 80, b))
	}
	// Many accounts scroll; six fit without scrolling at 800 px.
	var picker fyne.CanvasObject = container.NewCenter(list)
	if len(v.Accounts) > 5 {
		picker = sized(680, 5*88, container.NewVScroll(list))
	}
	items := []fyne.CanvasObject{title(u.tr.T("accounts.title")), u.noticeBox(u.notice(v), v.PINMinLength), gap(8), picker}
	if v.UnknownAccounts > 0 {
		items = append(items, body(u.tr.N("accounts.unknown", v.UnknownAccounts)))
	}
	return u.frame(v, true, true, items...)
}

// waitingScreen is ShowWaiting's: the terminal's name and clock, and
// what the window waits for, with no button.
func (u *UI) waitingScreen(key string) fyne.CanvasObject {
	v := kiosk.View{Terminal: u.view.Terminal}
	return u.frame(v, true, false, icon(theme.HistoryIcon(), 128), title(u.tr.T(key)), subtitle(u.tr.T("waiting.detail")))
}

func (u *UI) workingScreen(v kiosk.View) fyne.CanvasObject {
	return u.frame(v, true, true, icon(theme.HistoryIcon(), 128), title(u.tr.T("working.title")), u.noticeBox(u.notice(v), v.PINMinLength))
}
