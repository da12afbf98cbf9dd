package usbkey

import (
	"errors"
	"testing"

	"passkiosk/kiosk"
)

// TestLibfido2CodesMapToKinds pins the translation table. Codes are
// written as numbers on purpose: CTAP 2.1 §8.2 status codes as a key sends
// them, and libfido2's own negative codes (fido/err.h), so the test does
// not just repeat the constants the code uses.
func TestLibfido2CodesMapToKinds(t *testing.T) {
	gone := &Device{path: "/nonexistent/hidraw99"}
	here := &Device{path: "/dev/null"}
	tests := []struct {
		name string
		d    *Device
		code int
		want kiosk.Kind
	}{
		{"PIN_INVALID", here, 0x31, kiosk.KindPINInvalid},
		{"PIN_BLOCKED", here, 0x32, kiosk.KindPINBlocked},
		{"PIN_AUTH_BLOCKED", here, 0x34, kiosk.KindPINAuthBlocked},
		{"PIN_NOT_SET", here, 0x35, kiosk.KindPINNotSet},
		{"PIN_REQUIRED", here, 0x36, kiosk.KindNotAllowed},
		{"PIN_POLICY_VIOLATION", here, 0x37, kiosk.KindPINPolicy},
		{"UV_BLOCKED", here, 0x3c, kiosk.KindUVBlocked},
		{"UV_INVALID", here, 0x3f, kiosk.KindUVInvalid},
		{"NO_CREDENTIALS", here, 0x2e, kiosk.KindNoCredentials},
		{"CREDENTIAL_EXCLUDED", here, 0x19, kiosk.KindExcluded},
		{"USER_ACTION_TIMEOUT", here, 0x2f, kiosk.KindTimeout},
		{"ACTION_TIMEOUT", here, 0x3a, kiosk.KindTimeout},
		{"OPERATION_DENIED", here, 0x27, kiosk.KindNotAllowed},
		{"NOT_ALLOWED", here, 0x30, kiosk.KindNotAllowed},
		{"KEEPALIVE_CANCEL", here, 0x2d, kiosk.KindCancelled},
		{"CHANNEL_BUSY", here, 0x06, kiosk.KindDeviceBusy},
		{"INVALID_CBOR", here, 0x12, kiosk.KindDevice},
		{"RX_NOT_CBOR", here, -3, kiosk.KindDevice},
		{"RX_INVALID_CBOR", here, -4, kiosk.KindDevice},
		{"INTERNAL", here, -9, kiosk.KindDevice},
		{"unnamed status", here, 0x7e, kiosk.KindDevice},
		{"RX with the node present", here, -2, kiosk.KindDevice},
		{"RX with the node gone", gone, -2, kiosk.KindDeviceGone},
		{"TX with the node gone", gone, -1, kiosk.KindDeviceGone},
		{"PIN_AUTH_INVALID with the node gone", gone, 0x33, kiosk.KindDeviceGone},
		{"PIN_AUTH_INVALID with the node present", here, 0x33, kiosk.KindDevice},
		{"INTERNAL with the node gone", gone, -9, kiosk.KindDeviceGone},
		{"RX_INVALID_CBOR with the node gone", gone, -4, kiosk.KindDeviceGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.fail(nil, "op", tt.code)
			if kiosk.KindOf(err) != tt.want {
				t.Fatalf("code %d → %v, want %v", tt.code, err, tt.want)
			}
			var ce *codeError
			if !errors.As(err, &ce) || ce.Code != tt.code {
				t.Fatalf("code %d: libfido2's code is not kept under %v", tt.code, err)
			}
		})
	}
	if err := here.fail(nil, "op", 0); err != nil {
		t.Fatalf("FIDO_OK → %v, want nil", err)
	}
	// Without a session the tries count is unknown, not zero.
	if n := kiosk.TriesLeft(here.fail(nil, "op", 0x31)); n != -1 {
		t.Fatalf("PIN_INVALID without a session reports %d tries", n)
	}
}
