package main

import (
	"context"

	"passkiosk/fido"
	"passkiosk/fido/usbkey"
	"passkiosk/kiosk"
)

// newUSBKeys watches the USB security keys through libfido2.
func newUSBKeys(ctx context.Context, records kiosk.Store) *usbkey.Port {
	return usbkey.NewPort(ctx, usbkey.WatchOptions{}, usbkey.Options{}, storedCredential(records))
}

// storedCredential looks up a credential a key used in the records.
func storedCredential(records kiosk.Store) usbkey.LookupFunc {
	return func(credID, _ []byte) (fido.StoredCredential, error) {
		c, err := records.Credential(credID)
		if err != nil {
			return fido.StoredCredential{}, err
		}
		return fido.StoredCredential{ID: c.ID, PublicKey: c.PublicKey, Counter: c.Counter,
			UserHandle: []byte(c.User), BackupEligible: c.BackupEligible}, nil
	}
}
