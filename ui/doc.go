// Package ui is the kiosk's full-screen Fyne interface: the lock screen, the
// PIN pad, the fingerprint and touch prompts, the account picker, the
// enrollment wizard, the in-session view, the idle warning, the session-ended
// notice and the out-of-service screen, plus the kiosk theme and the demo
// panel that drives the virtual security key.
//
// Screens are functions of a kiosk.View plus the kiosk.Commands they send:
// no I/O, no engine internals. The engine publishes a View after every
// change; UI.Show renders it (from any goroutine, through fyne.Do). The only
// state kept here is what the person is typing (a PIN, a name, an
// enrollment code) and the first copy of a new PIN, which never leave this
// package except through Commands.EnterPIN and are zeroed after use.
//
// The package must not import fyne.io/fyne/v2/app (only cmd/passkiosk
// starts the Fyne app), bbolt, go-tpm or go-libfido2; it builds and tests
// with CGO_ENABLED=0 on Fyne's headless test driver.
//
// Tests run headless on Fyne's test driver; set a real locale, or Fyne
// logs "Error parsing user locale C" when it starts:
//
//	LANG=en_US.UTF-8 CGO_ENABLED=0 go test ./ui/...
//
// Goldens: TestGoldenScreens compares the markup of every screen in every
// state of screens_test.go with testdata/screens/<name>.xml (and the demo
// panel test with testdata/demo/). When a screen changes on purpose, run the
// tests, read the new markup Fyne writes to testdata/failed/ (ignored by
// git) and look at the pictures (PASSKIOSK_UI_PNG=dir go test ./ui -run
// TestWritePictures), then promote: either
//
//	go test ./ui -run TestGoldenScreens -update
//
// or move the files from testdata/failed/ over their masters.
//
// The screens are laid out for a landscape display of at least 1280×768 at
// scale 1; TestEveryScreenFitsTheSmallestDisplay holds every screen to
// that in every language.
package ui
