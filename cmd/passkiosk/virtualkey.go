package main

import (
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/demokey"
	"passkiosk/ui"
)

// virtualKeys is the demo's virtual security key (fido/softkey/demokey)
// as the screens' demo panel drives it. The demo's daemon half and its
// window share the process, so the panel drives the key directly.
type virtualKeys struct{ *demokey.Keys }

var _ ui.DemoKeyControl = (*virtualKeys)(nil)

// SetTouch is the panel's choice of how the person answers a touch
// request: a touch after a moment, a refusal, or nothing.
func (v *virtualKeys) SetTouch(m ui.TouchMode) {
	switch m {
	case ui.TouchAccept:
		v.Keys.SetTouch(softkey.TouchAfterDelay, 700*time.Millisecond)
	case ui.TouchRefuse:
		v.Keys.SetTouch(softkey.TouchRefused, 700*time.Millisecond)
	case ui.TouchIgnore:
		v.Keys.SetTouch(softkey.TouchNever, 0)
	}
}
