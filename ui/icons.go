package ui

import (
	_ "embed"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Icons drawn for these screens: Fyne's set has no fingerprint and no
// security key. Both are themed, so they take the foreground colour.
var (
	//go:embed icons/fingerprint.svg
	fingerprintSVG []byte
	//go:embed icons/securitykey.svg
	securityKeySVG []byte

	fingerprintIcon = theme.NewThemedResource(fyne.NewStaticResource("fingerprint.svg", fingerprintSVG))
	securityKeyIcon = theme.NewThemedResource(fyne.NewStaticResource("securitykey.svg", securityKeySVG))
)
