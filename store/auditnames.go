package store

import (
	"encoding/hex"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// The default labels the engine gives new credentials; a label an
// administrator or the person chose says more and is kept.
const (
	defaultKeyLabel      = "Security key"
	defaultPlatformLabel = "This terminal"
)

// CredentialLabel is a short, stable name for a credential in the audit
// log and listings: the person's own label if they gave one, else the key
// model from its AAGUID (or "TPM" for this terminal's platform passkey),
// followed by the first six hex digits of the credential ID, which tell
// two keys of one model apart.
func CredentialLabel(c Credential) string {
	name := c.Label
	switch {
	case c.Kind == KindPlatform && (name == "" || name == defaultPlatformLabel):
		name = "TPM"
	case name == "" || name == defaultKeyLabel:
		a := kiosk.AAGUID(c.AAGUID)
		name = a.Model()
		if name == "" && a != (kiosk.AAGUID{}) {
			name = "key " + hex.EncodeToString(a[:4])
		} else if name == "" {
			name = "security key"
		}
	}
	id := hex.EncodeToString(c.ID)
	if len(id) > 6 {
		id = id[:6]
	}
	return name + " " + id
}

// nameEntry fills in the person's sign-in name and the credential's label
// from the records when the caller did not, inside the transaction that
// appends the entry, so the entry still says who and with what after the
// person or the credential is gone.
func nameEntry(tx *bolt.Tx, e *AuditEvent) {
	if e.UserName == "" && len(e.UserID) > 0 {
		if b := tx.Bucket(bucketUsers); b != nil {
			if v := b.Get(e.UserID); v != nil {
				if u, err := decodeUser(e.UserID, v); err == nil {
					e.UserName = u.Name
				}
			}
		}
	}
	if e.CredentialLabel == "" && len(e.CredentialID) > 0 {
		if b := tx.Bucket(bucketCredentials); b != nil {
			if v := b.Get(e.CredentialID); v != nil {
				if c, err := decodeCredential(e.CredentialID, v); err == nil {
					e.CredentialLabel = CredentialLabel(*c)
				}
			}
		}
	}
}
