package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/kiosk"
)

// lockTextWidth is the lock screen's text width: the smallest display's
// width less the margins.
const lockTextWidth = 1140

// maxTiles bounds the recent-user tiles to one row, so the lock screen
// fits a 768 px panel even with a notice showing; anyone else types their
// name.
const maxTiles = 4

// tileSize fits maxTiles in a row of the smallest display.
var tileSize = fyne.NewSize(276, 72)

// lockScreen: clock, terminal name, the one instruction, recent users, a
// name entry and the way into enrollment. Tiles and the name entry start a
// platform (TPM) sign-in, so they are hidden when platform passkeys cannot
// be used here; a small line then says why.
func (u *UI) lockScreen(v kiosk.View) fyne.CanvasObject {
	clock := u.liveBigText(sizeClock, u.clock)
	// The lock screen uses nearly the full width: it carries the most
	// lines, and a 768 px panel has no height to spare for wrapping.
	const w = lockTextWidth
	// The date, or a notice in its place (a notice matters more), in a
	// slot as high as a notice of two lines, so nothing below moves when a
	// notice comes or goes. The few of three lines (in German) push the
	// rest down: a slot that high leaves a 768 px panel no room for tiles.
	var slot fyne.CanvasObject
	if v.Notice == nil {
		date := widget.NewLabel("")
		date.Alignment = fyne.TextAlignCenter
		date.SizeName = theme.SizeNameSubHeadingText
		date.Text = u.addLive(date.SetText, u.date)
		slot = date
	} else {
		slot = u.noticeBoxW(v.Notice, v.PINMinLength, w)
	}
	items := []fyne.CanvasObject{clock, sized(w, noticeSlotHeight(), container.NewCenter(slot))}
	if v.PlatformAvailable {
		items = append(items, paraW(u.tr.T("lock.instruction"), theme.SizeNameHeadingText, widget.MediumImportance, w, fyne.TextAlignCenter))
	} else {
		items = append(items, paraW(u.tr.T("lock.instruction_key_only"), theme.SizeNameHeadingText, widget.MediumImportance, w, fyne.TextAlignCenter))
	}
	if v.KeyPresent {
		// A key plugged in starts a sign-in by itself; one still in after
		// the last session or a failed try needs this.
		items = append(items, row(target(button(u.tr.T("lock.key_present"), securityKeyIcon, widget.SuccessImportance, u.act(u.cmds.UseKey)), 0)))
	}
	if v.PlatformAvailable {
		if len(v.Tiles) > 0 {
			items = append(items, u.tiles(v.Tiles))
		}
		cont := target(button(u.tr.T("lock.continue"), theme.NavigateNextIcon(), widget.HighImportance, u.act(func() { u.submitName(u.nameEntry.Text) })), 0)
		items = append(items, row(sized(420, minTouch, u.nameEntry), cont))
		u.focus = u.nameEntry
	}
	items = append(items, row(target(button(u.tr.T("lock.enroll"), theme.AccountIcon(), widget.MediumImportance, u.act(u.openEnrollCode)), 0)))
	if !v.PlatformAvailable && v.PlatformReason != "" {
		items = append(items, paraW(u.tr.T("lock.platform_unavailable", v.PlatformReason), theme.SizeNameCaptionText, widget.MediumImportance, w, fyne.TextAlignCenter))
	}
	if !v.OfflineSince.IsZero() {
		// A fleet terminal that cannot reach its directory still signs
		// people in; the small line tells staff and IT since when.
		items = append(items, paraW(u.tr.T("lock.offline_since", v.OfflineSince.Local().Format("15:04")), theme.SizeNameCaptionText, widget.MediumImportance, w, fyne.TextAlignCenter))
	}
	return u.frame(v, false, false, items...)
}

// noticeSlotHeight is the height of a notice of two lines.
func noticeSlotHeight() float32 {
	l := widget.NewLabel("A\nA")
	l.SizeName = theme.SizeNameSubHeadingText
	l.TextStyle.Bold = true
	return l.MinSize().Height
}

func (u *UI) tiles(ts []kiosk.Tile) fyne.CanvasObject {
	if len(ts) > maxTiles {
		ts = ts[:maxTiles]
	}
	objs := make([]fyne.CanvasObject, 0, len(ts))
	// The room for the name: the tile less the icon and the button's
	// paddings either side and between.
	room := tileSize.Width - theme.IconInlineSize() - 3*theme.InnerPadding()
	for _, t := range ts {
		id := t.User
		name := fitText(t.DisplayName, theme.TextSize(), fyne.TextStyle{Bold: true}, room)
		objs = append(objs, button(name, theme.AccountIcon(), widget.MediumImportance, u.act(func() { u.cmds.ChooseUser(id) })))
	}
	n := float32(len(objs))
	return container.NewCenter(sized(n*tileSize.Width+(n-1)*theme.Padding(), tileSize.Height, container.NewGridWithColumns(len(objs), objs...)))
}

func (u *UI) submitName(name string) { submit(u.nameEntry, name, u.cmds.TypeUserName) }

// submit sends what was typed into e, trimmed, and empties e; an entry of
// nothing but spaces sends nothing.
func submit(e *kioskEntry, text string, send func(string)) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	e.SetText("")
	send(text)
}

// openEnrollCode shows the code entry. The engine has no state for it: the
// code is only sent, with StartEnrollment, once typed.
func (u *UI) openEnrollCode() {
	u.enrollCode = true
	u.enrollCodeUntil = u.opts.Now().Add(u.opts.EnrollCodeTimeout)
	u.redraw()
}

func (u *UI) closeEnrollCode() {
	u.enrollCode = false
	u.codeEntry.SetText("")
	u.redraw()
}

// enrollActivity keeps the local code screen open while someone types.
func (u *UI) enrollActivity() {
	u.cmds.Activity()
	if u.enrollCode {
		u.enrollCodeUntil = u.opts.Now().Add(u.opts.EnrollCodeTimeout)
	}
}

func (u *UI) submitCode(code string) { submit(u.codeEntry, code, u.cmds.StartEnrollment) }

// enrollCodeScreen asks for the one-time code, either from the lock
// screen's button or when the engine asks (PromptEnrollCode).
func (u *UI) enrollCodeScreen(v kiosk.View) fyne.CanvasObject {
	submit := button(u.tr.T("enroll.code.submit"), theme.NavigateNextIcon(), widget.HighImportance, u.act(func() { u.submitCode(u.codeEntry.Text) }))
	u.focus = u.codeEntry
	local := u.enrollCode
	cancel := func() {
		if local {
			u.closeEnrollCode()
			return
		}
		u.cmds.Cancel()
	}
	var wait fyne.CanvasObject = gap(0)
	if local {
		// The lock screen's own entry point has no engine deadline; this
		// one keeps it from waiting forever.
		wait = container.NewCenter(u.countdownLabel("common.back_in", &u.enrollCodeUntil))
	}
	items := []fyne.CanvasObject{
		icon(theme.AccountIcon(), 96),
		title(u.tr.T("enroll.code.title")),
		u.noticeBox(u.notice(v), v.PINMinLength),
		gap(16),
		row(sized(420, minTouch, u.codeEntry), target(submit, 0)),
	}
	f := u.frame(v, true, false, append(items, gap(24),
		wait, row(target(button(u.tr.T("common.cancel"), theme.CancelIcon(), widget.MediumImportance, u.act(cancel)), 240)))...)
	u.keys = func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyEscape {
			cancel()
		}
	}
	return f
}
