package ui

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/ui/i18n"
)

// maxPIN is the longest PIN in bytes: CTAP 2.1 §6.5.5 allows at most 63
// bytes of UTF-8. The buffer is allocated once at that size so appending
// never copies a PIN into a fresh array that could not be zeroed.
const maxPIN = 63

// maxDots is how many dots the display shows; the count below it says the
// exact number.
const maxDots = 16

// pinPad is the on-screen PIN pad: dots with a count, 0–9, Delete and OK.
// It is focusable, so a keyboard works too: digits (and, for alphanumeric
// security key PINs, any printable character), Backspace, Enter. The PIN
// is never put into any text object: only dots and a count are drawn.
type pinPad struct {
	widget.BaseWidget

	tr       *i18n.Catalog
	buf      []byte
	submit   func()
	activity func()
	// otherKey gets keys the pad does not handle (Escape).
	otherKey func(*fyne.KeyEvent)

	dots  *canvas.Text
	count *widget.Label
	// digits are the digit keys' buttons, by digit.
	digits map[rune]*widget.Button
	// ok is enabled once min characters are typed, which minLine says.
	ok      *widget.Button
	min     int
	minLine *widget.Label
	// display is the dots and the count, placed by the screen beside the
	// keys; the pad widget itself draws the keys.
	display fyne.CanvasObject
	keys    fyne.CanvasObject
}

func newPINPad(tr *i18n.Catalog, submit func(), activity func()) *pinPad {
	p := &pinPad{tr: tr, buf: make([]byte, 0, maxPIN), submit: submit, activity: activity, digits: map[rune]*widget.Button{}}
	p.ExtendBaseWidget(p)
	p.dots = bigText("", sizePINDots, true)
	p.count = widget.NewLabel("")
	p.count.Alignment = fyne.TextAlignCenter
	p.minLine = widget.NewLabel("")
	p.minLine.Alignment = fyne.TextAlignCenter

	keys := make([]fyne.CanvasObject, 0, 12)
	for _, d := range "123456789" {
		keys = append(keys, p.digitKey(d))
	}
	del := button(tr.T("pin.delete"), theme.NavigateBackIcon(), widget.MediumImportance, p.tap(p.backspace))
	p.ok = button(tr.T("pin.ok"), theme.ConfirmIcon(), widget.HighImportance, p.tap(func() { p.submit() }))
	keys = append(keys, del, p.digitKey('0'), p.ok)

	const keyW = 150
	p.keys = sized(3*keyW+2*8, 4*pinKey+3*8, container.NewGridWithColumns(3, keys...))
	p.display = container.NewVBox(sized(3*keyW, sizePINDots+24, p.dots), p.count, p.minLine)
	p.update()
	return p
}

// digitKey is a key of the pad: a button without words under its digit,
// drawn large. The digit is not the button's own text because that comes
// in the theme's text size, and a theme override per key (Fyne's
// container.NewThemeOverride) made the GL driver load a fresh set of font
// faces, about 6 MB, for every key each time the pad was shown, and keep
// them for good.
func (p *pinPad) digitKey(d rune) fyne.CanvasObject {
	b := widget.NewButton("", p.tap(func() { p.add(d) }))
	p.digits[d] = b
	return container.NewStack(b, bigText(string(d), sizePINKeyDigit, true))
}

// tap wraps a key's action: activity, the action, and focus back on the pad
// so a keyboard keeps working after a touch.
func (p *pinPad) tap(f func()) func() {
	return func() {
		p.activity()
		f()
		if c := fyne.CurrentApp().Driver().CanvasForObject(p); c != nil {
			c.Focus(p)
		}
	}
}

func (p *pinPad) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(p.keys)
}

func (p *pinPad) add(r rune) {
	if len(p.buf)+utf8.RuneLen(r) > maxPIN {
		return
	}
	p.buf = utf8.AppendRune(p.buf, r)
	p.update()
}

func (p *pinPad) backspace() {
	if len(p.buf) == 0 {
		return
	}
	_, n := utf8.DecodeLastRune(p.buf)
	zero(p.buf[len(p.buf)-n:])
	p.buf = p.buf[:len(p.buf)-n]
	p.update()
}

// Clear forgets what was typed.
func (p *pinPad) Clear() {
	zero(p.buf)
	p.buf = p.buf[:0]
	p.update()
}

// SetMin sets the shortest PIN OK accepts; the pad says it below the count.
func (p *pinPad) SetMin(n int) {
	p.min = n
	p.update()
}

// Len is the number of characters typed.
func (p *pinPad) Len() int { return utf8.RuneCount(p.buf) }

// Take returns a copy of the PIN and clears the pad. The caller owns the
// copy and must zero it.
func (p *pinPad) Take() []byte {
	out := make([]byte, len(p.buf))
	copy(out, p.buf)
	p.Clear()
	return out
}

func (p *pinPad) update() {
	n := p.Len()
	p.dots.Text = strings.Repeat("●", min(n, maxDots))
	p.dots.Refresh()
	p.count.SetText(p.tr.N("pin.count", n))
	// The line is there even without a minimum, so the pad does not move.
	min := ""
	if p.min > 0 {
		min = p.tr.T("pin.min", p.min)
	}
	p.minLine.SetText(min)
	if n >= max(p.min, 1) {
		p.ok.Enable()
	} else {
		p.ok.Disable()
	}
}

// FocusGained and FocusLost make the pad a keyboard target.
func (p *pinPad) FocusGained() {}
func (p *pinPad) FocusLost()   {}

func (p *pinPad) TypedRune(r rune) {
	p.activity()
	if unicode.IsPrint(r) && !unicode.IsSpace(r) {
		p.add(r)
	}
}

func (p *pinPad) TypedKey(ev *fyne.KeyEvent) {
	p.activity()
	switch ev.Name {
	case fyne.KeyBackspace, fyne.KeyDelete:
		p.backspace()
	case fyne.KeyReturn, fyne.KeyEnter:
		p.submit()
	default:
		if p.otherKey != nil {
			p.otherKey(ev)
		}
	}
}
