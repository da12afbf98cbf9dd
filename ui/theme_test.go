package ui

import (
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// luminance is WCAG 2.x relative luminance.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestThemeContrast: every text colour against what it is drawn on meets
// WCAG AAA for normal text (7:1); placeholder and disabled text at least
// AA (4.5:1).
func TestThemeContrast(t *testing.T) {
	th := Theme()
	c := func(n fyne.ThemeColorName) color.Color { return th.Color(n, theme.VariantDark) }
	for _, tc := range []struct {
		fg, bg fyne.ThemeColorName
		min    float64
	}{
		{theme.ColorNameForeground, theme.ColorNameBackground, 7},
		{theme.ColorNameForeground, theme.ColorNameButton, 7},
		{theme.ColorNameForeground, theme.ColorNameInputBackground, 7},
		{theme.ColorNameError, theme.ColorNameBackground, 7},
		{theme.ColorNameSuccess, theme.ColorNameBackground, 7},
		{theme.ColorNameWarning, theme.ColorNameBackground, 7},
		{theme.ColorNameForegroundOnPrimary, theme.ColorNamePrimary, 7},
		{theme.ColorNameForegroundOnError, theme.ColorNameError, 7},
		{theme.ColorNamePlaceHolder, theme.ColorNameInputBackground, 4.5},
		{theme.ColorNameDisabled, theme.ColorNameBackground, 4.5},
	} {
		if r := contrast(c(tc.fg), c(tc.bg)); r < tc.min {
			t.Errorf("%s on %s: contrast %.1f, want ≥ %.1f", tc.fg, tc.bg, r, tc.min)
		}
	}
	if th.Size(theme.SizeNameText) < 20 {
		t.Errorf("body text %v pt, want ≥ 20", th.Size(theme.SizeNameText))
	}
	if th.Size(theme.SizeNameCaptionText) < 18 {
		t.Errorf("caption text %v pt, want ≥ 18", th.Size(theme.SizeNameCaptionText))
	}
}
