package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// AddRecoveryCredential stores the credential a person registered with a
// recovery code and, in the same transaction, revokes every other
// credential they had: the person lost them, so whoever holds them now
// must not sign in as that person. Each revocation is audited
// (kiosk.EventCredentialRemoved with detail revoked=recovery), after the
// new credential's enrollment. It returns how many were revoked.
func (db *DB) AddRecoveryCredential(c Credential, ch Change) (int, error) {
	const op = "add recovery credential"
	if err := validCredential(&c); err != nil {
		return 0, kiosk.E(kiosk.KindMalformed, op, err)
	}
	at := db.at(ch.At)
	if c.Created.IsZero() {
		c.Created = at
	}
	revoked := 0
	err := db.update(op, func(tx *bolt.Tx) error {
		revoked = 0
		if err := addCredentialIn(tx, op, &c, ch, at); err != nil {
			return err
		}
		var old [][]byte
		if ub := tx.Bucket(bucketCredByUser).Bucket(c.UserID); ub != nil {
			err := ub.ForEach(func(k, _ []byte) error {
				if !bytes.Equal(k, c.ID) {
					old = append(old, clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, id := range old {
			gone, err := credentialIn(tx, op, id)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketCredentials).Delete(id); err != nil {
				return err
			}
			if err := tx.Bucket(bucketCredByUser).Bucket(c.UserID).Delete(id); err != nil {
				return err
			}
			ev := ch.event(kiosk.EventCredentialRemoved, at)
			ev.UserID, ev.CredentialID, ev.CredentialLabel = gone.UserID, gone.ID, CredentialLabel(*gone)
			ev.Detail = mergeDetail(ch.Detail, map[string]string{"revoked": "recovery", "replaced-by": CredentialLabel(c)})
			if _, err := appendAudit(tx, &ev); err != nil {
				return err
			}
			revoked++
		}
		return nil
	})
	return revoked, err
}
