package fido

import "passkiosk/kiosk"

// fail returns a *kiosk.Error of the given kind for a verification step.
func fail(kind kiosk.Kind, format string, args ...any) error {
	return kiosk.Errorf(kind, "webauthn", format, args...)
}
