package store

import (
	"bytes"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// Administration that removes records: a person leaving, a code handed
// out by mistake. Each removal and its audit entry are one transaction.

// EnrollmentCodes returns every stored code (used and expired ones until
// PruneEnrollmentCodes removes them), in ID order. Only hashes are kept,
// so no code can be read back.
func (db *DB) EnrollmentCodes() ([]EnrollmentCode, error) {
	return records(db, "list enrollment codes", bucketEnroll, decodeEnroll, nil)
}

// CancelEnrollmentCode withdraws an unused code: it is deleted, so it can
// never be redeemed, and the cancellation is audited. A used code cannot
// be cancelled (its use is history).
func (db *DB) CancelEnrollmentCode(id []byte, ch Change) error {
	const op = "cancel enrollment code"
	at := db.at(ch.At)
	return db.update(op, func(tx *bolt.Tx) error {
		c, err := getRecord(tx, op, "code with ID", bucketEnroll, id, decodeEnroll)
		if err != nil {
			return err
		}
		if !c.UsedAt.IsZero() {
			return kiosk.Errorf(kiosk.KindConflict, op, "code %x was already used at %s", id, c.UsedAt.Format("2006-01-02 15:04"))
		}
		if err := tx.Bucket(bucketEnroll).Delete(id); err != nil {
			return err
		}
		ev := ch.event(kiosk.EventEnrollCodeCancelled, at)
		ev.UserID = c.UserID
		ev.Detail = mergeDetail(ev.Detail, map[string]string{"code-id": fmt.Sprintf("%x", id), "purpose": c.Purpose.String()})
		_, err = appendAudit(tx, &ev)
		return err
	})
}

// RemoveUser deletes a person, every credential of theirs and their unused
// enrollment codes, and audits what went. Their past sign-ins and sessions
// stay in the audit log and the session journal.
func (db *DB) RemoveUser(id []byte, ch Change) error {
	const op = "remove user"
	at := db.at(ch.At)
	return db.update(op, func(tx *bolt.Tx) error {
		u, err := getRecord(tx, op, "user", bucketUsers, id, decodeUser)
		if err != nil {
			return err
		}
		creds, codes, err := deleteUserIn(tx, id)
		if err != nil {
			return err
		}
		ev := ch.event(kiosk.EventUserRemoved, at)
		ev.UserID, ev.UserName = id, u.Name
		ev.Detail = mergeDetail(ev.Detail, map[string]string{"name": u.Name,
			"credentials": strconv.Itoa(len(creds)), "codes": strconv.Itoa(codes)})
		_, err = appendAudit(tx, &ev)
		return err
	})
}

// deleteUserIn deletes a person, every credential of theirs and their
// unused codes inside tx, and returns the credentials' IDs and how many
// codes went. The caller audits.
func deleteUserIn(tx *bolt.Tx, id []byte) ([][]byte, int, error) {
	creds, err := removeCredentialsOf(tx, id)
	if err != nil {
		return nil, 0, err
	}
	codes, err := pruneIn(tx, bucketEnroll, decodeEnroll, func(c *EnrollmentCode) bool {
		return bytes.Equal(c.UserID, id) && c.UsedAt.IsZero()
	})
	if err != nil {
		return nil, 0, err
	}
	return creds, codes, tx.Bucket(bucketUsers).Delete(id)
}

// removeCredentialsOf deletes every credential of a user and their index,
// and returns their IDs.
func removeCredentialsOf(tx *bolt.Tx, user []byte) ([][]byte, error) {
	creds, err := bucket(tx, bucketCredentials)
	if err != nil {
		return nil, err
	}
	idx, err := bucket(tx, bucketCredByUser)
	if err != nil {
		return nil, err
	}
	ub := idx.Bucket(user)
	if ub == nil {
		return nil, nil
	}
	var ids [][]byte
	if err := ub.ForEach(func(k, _ []byte) error { ids = append(ids, clone(k)); return nil }); err != nil {
		return nil, err
	}
	for _, c := range ids {
		if err := creds.Delete(c); err != nil {
			return nil, err
		}
	}
	return ids, idx.DeleteBucket(user)
}
