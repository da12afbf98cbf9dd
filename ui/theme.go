package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Theme returns the kiosk theme: light text on a very dark background, large
// type and large touch targets.
//
// Why light on dark: these screens are on all night in dim wards and shops
// after closing. A white screen lights up the room and dazzles eyes that have
// adapted to the dark; near-white text on near-black is just as readable at
// arm's length (the foreground/background contrast ratio is about 17:1,
// far above WCAG's 7:1 for AAA) without that glare. Colour is never the only
// signal: every error or success message carries an icon and words.
func Theme() fyne.Theme { return kioskTheme{} }

type kioskTheme struct{}

// The palette. Each foreground is checked against the background it is drawn
// on in theme_test.go (contrast ratio ≥ 7 for text).
var (
	colBackground   = color.NRGBA{0x10, 0x14, 0x18, 0xff}
	colForeground   = color.NRGBA{0xf5, 0xf7, 0xfa, 0xff}
	colButton       = color.NRGBA{0x2b, 0x35, 0x40, 0xff}
	colPrimary      = color.NRGBA{0x9c, 0xcc, 0xff, 0xff} // light blue; dark text on it
	colOnPrimary    = color.NRGBA{0x0a, 0x0f, 0x14, 0xff}
	colError        = color.NRGBA{0xff, 0x9a, 0x8f, 0xff} // light red: readable on the dark background
	colSuccess      = color.NRGBA{0x8f, 0xe3, 0xa1, 0xff}
	colWarning      = color.NRGBA{0xff, 0xd5, 0x80, 0xff}
	colDisabled     = color.NRGBA{0x9a, 0xa3, 0xad, 0xff}
	colDisabledBtn  = color.NRGBA{0x1f, 0x26, 0x2e, 0xff}
	colInput        = color.NRGBA{0x1c, 0x23, 0x2b, 0xff}
	colInputBorder  = color.NRGBA{0x9a, 0xa3, 0xad, 0xff}
	colPlaceholder  = color.NRGBA{0xb8, 0xc0, 0xc8, 0xff}
	colFocus        = color.NRGBA{0x9c, 0xcc, 0xff, 0x66}
	colHover        = color.NRGBA{0xff, 0xff, 0xff, 0x1a}
	colPressed      = color.NRGBA{0xff, 0xff, 0xff, 0x33}
	colSeparator    = color.NRGBA{0x3a, 0x44, 0x50, 0xff}
	colOverlay      = color.NRGBA{0x18, 0x1e, 0x25, 0xff}
	colShadow       = color.NRGBA{0x00, 0x00, 0x00, 0x66}
	colSelection    = color.NRGBA{0x9c, 0xcc, 0xff, 0x40}
	colHeaderBg     = color.NRGBA{0x1e, 0x2a, 0x36, 0xff}
	colScrollBar    = color.NRGBA{0xff, 0xff, 0xff, 0x66}
	colScrollBarBg  = color.NRGBA{0x00, 0x00, 0x00, 0x00}
	colOnDangerText = color.NRGBA{0x0a, 0x0f, 0x14, 0xff}
)

// palette is the colour the kiosk sets for each name Fyne asks for; a
// name not here falls back to Fyne's dark theme.
var palette = map[fyne.ThemeColorName]color.Color{
	theme.ColorNameBackground:          colBackground,
	theme.ColorNameForeground:          colForeground,
	theme.ColorNameButton:              colButton,
	theme.ColorNameDisabledButton:      colDisabledBtn,
	theme.ColorNameDisabled:            colDisabled,
	theme.ColorNamePrimary:             colPrimary,
	theme.ColorNameHyperlink:           colPrimary,
	theme.ColorNameForegroundOnPrimary: colOnPrimary,
	theme.ColorNameError:               colError,
	theme.ColorNameForegroundOnError:   colOnDangerText,
	theme.ColorNameForegroundOnSuccess: colOnDangerText,
	theme.ColorNameForegroundOnWarning: colOnDangerText,
	theme.ColorNameSuccess:             colSuccess,
	theme.ColorNameWarning:             colWarning,
	theme.ColorNameInputBackground:     colInput,
	theme.ColorNameInputBorder:         colInputBorder,
	theme.ColorNamePlaceHolder:         colPlaceholder,
	theme.ColorNameFocus:               colFocus,
	theme.ColorNameHover:               colHover,
	theme.ColorNamePressed:             colPressed,
	theme.ColorNameSeparator:           colSeparator,
	theme.ColorNameOverlayBackground:   colOverlay,
	theme.ColorNameMenuBackground:      colOverlay,
	theme.ColorNameShadow:              colShadow,
	theme.ColorNameSelection:           colSelection,
	theme.ColorNameHeaderBackground:    colHeaderBg,
	theme.ColorNameScrollBar:           colScrollBar,
	theme.ColorNameScrollBarBackground: colScrollBarBg,
}

func (kioskTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	if c, ok := palette[n]; ok {
		return c
	}
	return theme.DefaultTheme().Color(n, theme.VariantDark)
}

func (kioskTheme) Font(s fyne.TextStyle) fyne.Resource { return theme.DefaultTheme().Font(s) }

func (kioskTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }

// Sizes at scale 1. Body text is 22 pt (the brief asks for at least 20);
// captions never drop below 18, so nothing on these screens needs glasses.
// With 22 pt text and 14 px inner padding a standard button is about 58 px
// tall, above the 48 px minimum touch target.
func (kioskTheme) Size(n fyne.ThemeSizeName) float32 {
	if v, ok := sizes[n]; ok {
		return v
	}
	return theme.DefaultTheme().Size(n)
}

var sizes = map[fyne.ThemeSizeName]float32{
	theme.SizeNameText:               sizeText,
	theme.SizeNameHeadingText:        sizeHeading,
	theme.SizeNameSubHeadingText:     sizeSubHeading,
	theme.SizeNameCaptionText:        18,
	theme.SizeNamePadding:            8,
	theme.SizeNameInnerPadding:       14,
	theme.SizeNameLineSpacing:        6,
	theme.SizeNameInlineIcon:         32,
	theme.SizeNameInputBorder:        3,
	theme.SizeNameInputRadius:        8,
	theme.SizeNameSelectionRadius:    8,
	theme.SizeNameScrollBar:          24,
	theme.SizeNameScrollBarSmall:     8,
	theme.SizeNameSeparatorThickness: 2,
}

// Sizes the screens use directly.
const (
	sizeText       = 22
	sizeSubHeading = 28
	sizeHeading    = 36
	sizeClock      = 96
	sizeCountdown  = 96
	sizePINDots    = 56
	// sizePINKeyDigit is a PIN pad key's digit.
	sizePINKeyDigit = 44

	// minTouch is the smallest touch target on any screen; pinKey is the
	// side of a PIN pad key, clearly larger so a gloved finger hits it.
	minTouch = 56
	pinKey   = 96
)

var transparent = color.NRGBA{}
