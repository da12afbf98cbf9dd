package ui

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// textWidth is the width of wrapped paragraphs: a line of about 60
// characters at body size, which reads at a glance.
const textWidth = 860

// minLayout stacks its objects on top of each other, filling the space, and
// asks for at least min. It gives touch targets and wrapped text a size
// that does not depend on what is around them.
type minLayout struct{ min fyne.Size }

func (l minLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (l minLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := l.min
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return m
}

func sized(w, h float32, objs ...fyne.CanvasObject) *fyne.Container {
	return container.New(minLayout{fyne.NewSize(w, h)}, objs...)
}

// countdownLabel is a subheading that counts down to *end in the sentence
// key (its one argument is the time left); Tick keeps it current. End is
// read at every tick, so a wait that is extended while the screen shows
// (someone typing the enrollment code) counts from its new end.
func (u *UI) countdownLabel(key string, end *time.Time) *widget.Label {
	l := widget.NewLabel("")
	l.SizeName = theme.SizeNameSubHeadingText
	l.Text = u.addLive(l.SetText, func(now time.Time) string { return u.tr.T(key, countdown(now, *end)) })
	return l
}

// liveBigText is a big line of text (the clock, a countdown) that Tick
// keeps current with get.
func (u *UI) liveBigText(size float32, get func(now time.Time) string) *canvas.Text {
	t := bigText("", size, true)
	t.Text = u.addLive(func(s string) { t.Text = s; t.Refresh() }, get)
	return t
}

// timeLeft is the time left until end, for live text.
func timeLeft(end time.Time) func(now time.Time) string {
	return func(now time.Time) string { return countdown(now, end) }
}

// para is a wrapped, centred paragraph of text at a theme size.
func para(text string, size fyne.ThemeSizeName, imp widget.Importance) *fyne.Container {
	return paraW(text, size, imp, textWidth, fyne.TextAlignCenter)
}

// paraW is para at a given width and alignment.
func paraW(text string, size fyne.ThemeSizeName, imp widget.Importance, width float32, align fyne.TextAlign) *fyne.Container {
	l := widget.NewLabel("")
	l.Alignment = align
	l.SizeName = size
	l.Importance = imp
	if size == theme.SizeNameHeadingText || size == theme.SizeNameSubHeadingText {
		l.TextStyle.Bold = true
	}
	l.Text = wrapLabel(l, text, width)
	return sized(width, 0, l)
}

// wrapLabel breaks text into lines that fit a label of the given width.
// Fyne's own word wrapping reports the height of one line until the label
// has been laid out once, so a box of wrapped labels overlaps; explicit
// line breaks give the right height at once.
func wrapLabel(l *widget.Label, text string, width float32) string {
	size := theme.Size(l.SizeName)
	if l.SizeName == "" {
		size = theme.TextSize()
	}
	return wrapText(text, size, l.TextStyle, width-2*theme.InnerPadding())
}

func wrapText(text string, size float32, style fyne.TextStyle, width float32) string {
	var out strings.Builder
	for i, p := range strings.Split(text, "\n") {
		if i > 0 {
			out.WriteByte('\n')
		}
		line := ""
		for _, w := range strings.Fields(p) {
			try := w
			if line != "" {
				try = line + " " + w
			}
			if line != "" && fyne.MeasureText(try, size, style).Width > width {
				out.WriteString(line)
				out.WriteByte('\n')
				try = w
			}
			line = try
		}
		out.WriteString(line)
	}
	return out.String()
}

// bigText is a single line of large text (clock, countdown, PIN dots).
func bigText(s string, size float32, bold bool) *canvas.Text {
	t := canvas.NewText(s, theme.Color(theme.ColorNameForeground))
	t.TextSize = size
	t.TextStyle.Bold = bold
	t.Alignment = fyne.TextAlignCenter
	return t
}

// button is a touch target at least minTouch high with an icon and words.
func button(label string, icon fyne.Resource, imp widget.Importance, tapped func()) *widget.Button {
	b := widget.NewButtonWithIcon(label, icon, tapped)
	b.Importance = imp
	return b
}

// target gives a button a minimum touch size.
func target(b fyne.CanvasObject, w float32) *fyne.Container {
	return sized(w, minTouch, b)
}

// column centres its objects vertically and horizontally.
func column(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.NewCenter(container.NewVBox(objs...))
}

// row centres its objects side by side.
func row(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.NewCenter(container.NewHBox(objs...))
}

// gap is vertical space.
func gap(h float32) fyne.CanvasObject { return sized(0, h) }

// icon is a theme icon at a size that reads from a distance.
func icon(res fyne.Resource, side float32) fyne.CanvasObject {
	return container.NewCenter(sized(side, side, widget.NewIcon(res)))
}

// kioskEntry is a text entry that reports typing as activity and submits
// on Enter.
type kioskEntry struct {
	widget.Entry
	activity func()
	// otherKey gets Escape, which an entry ignores.
	otherKey func(*fyne.KeyEvent)
}

func newKioskEntry(placeholder string, submit func(string), activity func()) *kioskEntry {
	e := &kioskEntry{activity: activity}
	e.ExtendBaseWidget(e)
	e.PlaceHolder = placeholder
	e.OnSubmitted = submit
	return e
}

func (e *kioskEntry) TypedRune(r rune) {
	e.activity()
	e.Entry.TypedRune(r)
}

func (e *kioskEntry) TypedKey(ev *fyne.KeyEvent) {
	e.activity()
	if ev.Name == fyne.KeyEscape && e.otherKey != nil {
		e.otherKey(ev)
		return
	}
	e.Entry.TypedKey(ev)
}

// tapCatcher covers the whole screen and turns any tap into one call (the
// idle warning: any touch means "still here").
type tapCatcher struct {
	widget.BaseWidget
	tapped func()
}

func newTapCatcher(tapped func()) *tapCatcher {
	t := &tapCatcher{tapped: tapped}
	t.ExtendBaseWidget(t)
	return t
}

func (t *tapCatcher) Tapped(*fyne.PointEvent) { t.tapped() }

func (t *tapCatcher) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(transparent))
}

// fitText shortens s with an ellipsis until it fits width.
func fitText(s string, size float32, style fyne.TextStyle, width float32) string {
	if fyne.MeasureText(s, size, style).Width <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 {
		r = r[:len(r)-1]
		t := strings.TrimSpace(string(r)) + "…"
		if fyne.MeasureText(t, size, style).Width <= width {
			return t
		}
	}
	return "…"
}
