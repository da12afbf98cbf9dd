package store

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"passkiosk/kiosk"
)

// The fleet mirror: on a terminal that belongs to a fleet, people, their
// roaming credentials, revocations and the policy come from the fleet's
// directory (package store/fleet watches it). They are stored here as the
// store's ordinary users, credentials and policy versions, so the engine
// signs people in from this file whether or not the directory can be
// reached. The mirror/ bucket remembers which records the directory owns
// (a full reload removes those it no longer has, never the terminal's own
// platform credentials) and the directory's revision the file holds.

// Revocation is a credential the directory revoked: it is removed here
// whatever its kind (IT revokes platform credentials by ID too).
type Revocation struct {
	CredentialID []byte
	By           string
	Reason       string
}

// MirrorBatch is one step of the mirror: the directory's changes up to
// Revision, applied with Revision in one transaction.
type MirrorBatch struct {
	// Revision is the directory's revision the mirror holds once the
	// batch is applied. Only a full load may go backwards.
	Revision int64
	// Full says the batch is the whole directory at Revision: records the
	// directory owned before and does not name now are removed.
	Full bool
	// Users and Credentials are created or replaced (Credentials are
	// roaming credentials' public parts). A credential whose person is
	// neither here nor already stored is skipped and counted.
	Users       []User
	Credentials []Credential
	// RemovedUsers go with every credential of theirs and their unused
	// codes; RemovedCredentials and Revoked are removed (Revoked is
	// audited as a revocation).
	RemovedUsers       [][]byte
	RemovedCredentials [][]byte
	Revoked            []Revocation
	// Suspected are credentials the fleet suspects of being cloned,
	// audited here (possible-clone); the fleet revokes one when its
	// policy refuses them, which arrives in Revoked.
	Suspected []Suspicion
	// Policy, when set, is the directory's current policy; it is stored
	// as a new local version when its data differs from the newest.
	Policy *Policy
	// Place, when set, is this terminal's own inventory record (its
	// site, ward and labels), new or changed; PlaceRemoved says the
	// directory deleted it. A full load without Place removes it.
	Place        *Place
	PlaceRemoved bool
	// At is when the batch was applied (zero: the store's clock);
	// Terminal names this terminal in the audit entries.
	At       time.Time
	Terminal string
}

// Place is where this terminal stands, as the directory's inventory
// says: the policy's place rules match it. The mirror keeps the last one
// it saw, so a terminal that restarts offline keeps its place.
type Place struct {
	Site      string
	Ward      string
	Labels    map[string]string
	Updated   time.Time
	UpdatedBy string
}

type placeWire struct {
	V         uint              `cbor:"0,keyasint"`
	Site      string            `cbor:"1,keyasint,omitempty"`
	Ward      string            `cbor:"2,keyasint,omitempty"`
	Labels    map[string]string `cbor:"3,keyasint,omitempty"`
	Updated   int64             `cbor:"4,keyasint,omitempty"`
	UpdatedBy string            `cbor:"5,keyasint,omitempty"`
}

func (w placeWire) version() uint { return w.V }

func (w placeWire) record() (*Place, error) {
	return &Place{Site: w.Site, Ward: w.Ward, Labels: w.Labels, Updated: Unstamp(w.Updated), UpdatedBy: w.UpdatedBy}, nil
}

func encodePlace(p *Place) ([]byte, error) {
	labels := p.Labels
	if len(labels) == 0 {
		labels = nil
	}
	return encodeWire("encode place", placeWire{V: recordVersion, Site: p.Site, Ward: p.Ward, Labels: labels,
		Updated: Stamp(p.Updated), UpdatedBy: p.UpdatedBy})
}

func decodePlace(k, v []byte) (*Place, error) {
	return decodeRecord[Place, placeWire]("decode place", k, v, encodePlace)
}

// MirrorPlace reads this terminal's place as the mirror last saw it;
// false when the directory has none for it (or this is no fleet
// terminal).
func (db *DB) MirrorPlace() (Place, bool, error) {
	var p *Place
	err := db.view("read mirror place", func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMirror)
		if m == nil {
			return nil
		}
		v := m.Get(keyMirrorPlace)
		if v == nil {
			return nil
		}
		var err error
		p, err = decodePlace(keyMirrorPlace, v)
		return err
	})
	if err != nil || p == nil {
		return Place{}, false, err
	}
	return *p, true, nil
}

// Suspicion is a credential whose signature counter went backwards across
// terminals (WebAuthn §6.1.1): Detail says where and when it was seen.
type Suspicion struct {
	CredentialID []byte
	UserID       []byte
	Detail       map[string]string
}

// MirrorApplied is what a batch changed that the running appliance must
// act on at once.
type MirrorApplied struct {
	Revision int64
	// Stopped are people who may no longer sign in since this batch:
	// disabled, locked or removed. Revoked are credentials removed by
	// revocation (or with their person).
	Stopped [][]byte
	Revoked [][]byte
	// Policy is the new local policy version when the batch brought one,
	// else 0.
	Policy uint64
	// Place says this terminal's place changed or was removed.
	Place   bool
	Users   int // created or replaced
	Creds   int // created or replaced
	Skipped int // credentials whose person is unknown
}

// MirrorState is where the mirror stands.
type MirrorState struct {
	Revision int64     // 0: never loaded
	Current  time.Time // when it last matched the directory (a batch or a confirmation)
}

var (
	bucketMirror      = []byte("mirror")
	bucketMirrorUsers = []byte("users")
	bucketMirrorCreds = []byte("credentials")
	keyMirrorRevision = []byte("revision")
	keyMirrorCurrent  = []byte("current-at")
	keyMirrorPlace    = []byte("place")
)

// mirrorBuckets returns mirror/ and its two sets, made by their first
// write.
func mirrorBuckets(tx *bolt.Tx) (m, users, creds *bolt.Bucket, err error) {
	if m, err = tx.CreateBucketIfNotExists(bucketMirror); err != nil {
		return
	}
	if users, err = m.CreateBucketIfNotExists(bucketMirrorUsers); err != nil {
		return
	}
	creds, err = m.CreateBucketIfNotExists(bucketMirrorCreds)
	return
}

func mirrorRevisionIn(m *bolt.Bucket) (int64, error) {
	v := m.Get(keyMirrorRevision)
	if v == nil {
		return 0, nil
	}
	b, err := unseal("read mirror revision", keyMirrorRevision, v)
	if err != nil {
		return 0, err
	}
	n, ok := fromU64(b)
	if !ok {
		return 0, kiosk.Errorf(kiosk.KindStoreCorrupt, "read mirror revision", "%d bytes", len(b))
	}
	return int64(n), nil
}

// MirrorState reads the mirror's revision and when it was last current.
func (db *DB) MirrorState() (MirrorState, error) {
	const op = "read mirror state"
	var st MirrorState
	err := db.view(op, func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMirror)
		if m == nil {
			return nil
		}
		var err error
		if st.Revision, err = mirrorRevisionIn(m); err != nil {
			return err
		}
		if v := m.Get(keyMirrorCurrent); v != nil {
			b, err := unseal(op, keyMirrorCurrent, v)
			if err != nil {
				return err
			}
			n, ok := fromU64(b)
			if !ok {
				return kiosk.Errorf(kiosk.KindStoreCorrupt, op, "current-at of %d bytes", len(b))
			}
			st.Current = Unstamp(int64(n))
		}
		return nil
	})
	return st, err
}

// ConfirmMirror records that the mirror matched the directory at
// revision rev at time at (a progress notification: nothing in the
// directory changed up to rev). How old the mirror is, offline, counts
// from here, and a later watch starts after rev, so a compaction of
// revisions that held nothing for the mirror does not force a full
// reload. A rev below the stored one keeps the stored one. Nothing is
// audited; the agent calls it about once a minute, not on every
// notification.
func (db *DB) ConfirmMirror(rev int64, at time.Time) error {
	const op = "confirm mirror"
	at = db.at(at)
	return db.update(op, func(tx *bolt.Tx) error {
		m, _, _, err := mirrorBuckets(tx)
		if err != nil {
			return err
		}
		prev, err := mirrorRevisionIn(m)
		if err != nil {
			return err
		}
		if rev > prev {
			if err := put(m, keyMirrorRevision, u64(uint64(rev))); err != nil {
				return err
			}
		}
		return put(m, keyMirrorCurrent, u64(uint64(Stamp(at))))
	})
}

// ApplyMirror applies one batch of the directory's changes and its
// revision in one write transaction, so the file never holds a revision
// without its changes, nor changes without their revision: after a crash
// the agent watches again from the revision stored here.
//
// Upserts are audited together as one fleet-synced entry with their counts
// (a full load of ten thousand people is one entry, not ten thousand);
// every person stopped and every credential revoked or removed is an entry
// of its own, and a full reload is marked with fleet-reloaded. Names of
// people from the directory are not checked for uniqueness here: the
// directory is the authority on them.
func (db *DB) ApplyMirror(b MirrorBatch) (MirrorApplied, error) {
	const op = "apply fleet mirror"
	at := db.at(b.At)
	var res MirrorApplied
	err := db.update(op, func(tx *bolt.Tx) error {
		res = MirrorApplied{Revision: b.Revision}
		a := &mirrorTx{tx: tx, op: op, at: at, terminal: b.Terminal, res: &res}
		return a.apply(&b)
	})
	if err != nil {
		return MirrorApplied{}, err
	}
	return res, nil
}

// mirrorTx is one ApplyMirror's transaction.
type mirrorTx struct {
	tx       *bolt.Tx
	op       string
	at       time.Time
	terminal string
	res      *MirrorApplied

	m, ownUsers, ownCreds, users, creds, idx *bolt.Bucket
}

func (a *mirrorTx) apply(b *MirrorBatch) error {
	var err error
	if a.m, a.ownUsers, a.ownCreds, err = mirrorBuckets(a.tx); err != nil {
		return err
	}
	if a.users, err = bucket(a.tx, bucketUsers); err != nil {
		return err
	}
	if a.creds, err = bucket(a.tx, bucketCredentials); err != nil {
		return err
	}
	if a.idx, err = bucket(a.tx, bucketCredByUser); err != nil {
		return err
	}
	prev, err := mirrorRevisionIn(a.m)
	if err != nil {
		return err
	}
	// A full load replaces everything, so it may go back: a directory
	// restored from a backup is at an older revision than the mirror.
	if b.Revision < prev && !b.Full {
		return kiosk.Errorf(kiosk.KindConflict, a.op, "revision %d is older than the mirror's %d", b.Revision, prev)
	}
	if b.Full {
		if err := a.dropMissing(b); err != nil {
			return err
		}
	}
	for i := range b.Users {
		if err := a.putUser(&b.Users[i]); err != nil {
			return err
		}
	}
	for i := range b.Credentials {
		if err := a.putCredential(&b.Credentials[i]); err != nil {
			return err
		}
	}
	for _, r := range b.Revoked {
		if err := a.removeCredential(r.CredentialID, "revoked", map[string]string{"by": r.By, "reason": r.Reason}); err != nil {
			return err
		}
	}
	for _, id := range b.RemovedCredentials {
		if err := a.removeCredential(id, "removed", nil); err != nil {
			return err
		}
	}
	for _, id := range b.RemovedUsers {
		if err := a.removeUser(id); err != nil {
			return err
		}
	}
	if err := a.auditSuspects(b.Suspected); err != nil {
		return err
	}
	if b.Policy != nil {
		if err := a.putPolicy(b.Policy); err != nil {
			return err
		}
	}
	if err := a.putPlace(b); err != nil {
		return err
	}
	if err := put(a.m, keyMirrorRevision, u64(uint64(b.Revision))); err != nil {
		return err
	}
	if err := put(a.m, keyMirrorCurrent, u64(uint64(Stamp(a.at)))); err != nil {
		return err
	}
	return a.auditBatch(b, prev)
}

// auditSuspects audits each credential the fleet suspects of being
// cloned.
func (a *mirrorTx) auditSuspects(sps []Suspicion) error {
	for _, sp := range sps {
		ev := AuditEvent{Time: a.at, Type: kiosk.EventPossibleClone, Actor: "fleet", Terminal: a.terminal, UserID: sp.UserID,
			CredentialID: sp.CredentialID, Reason: kiosk.KindCounterRegression, Detail: mergeDetail(sp.Detail, map[string]string{"fleet": "suspected"})}
		if _, err := appendAudit(a.tx, &ev); err != nil {
			return err
		}
	}
	return nil
}

// auditBatch writes the batch's summary entry.
func (a *mirrorTx) auditBatch(b *MirrorBatch, prev int64) error {
	typ := kiosk.EventFleetSynced
	if b.Full {
		typ = kiosk.EventFleetReloaded
	}
	if !b.Full && a.res.Users == 0 && a.res.Creds == 0 && a.res.Skipped == 0 {
		// Removals and policy versions have entries of their own.
		return nil
	}
	ev := AuditEvent{Time: a.at, Type: typ, Actor: "fleet", Terminal: a.terminal, Detail: map[string]string{
		"revision": strconv.FormatInt(b.Revision, 10), "previous": strconv.FormatInt(prev, 10),
		"users": strconv.Itoa(a.res.Users), "credentials": strconv.Itoa(a.res.Creds),
	}}
	if a.res.Skipped > 0 {
		ev.Detail["skipped"] = strconv.Itoa(a.res.Skipped)
	}
	_, err := appendAudit(a.tx, &ev)
	return err
}

// dropMissing removes the records the directory owned and no longer
// names: what a full reload after a compaction cannot see as deletions.
func (a *mirrorTx) dropMissing(b *MirrorBatch) error {
	keepUsers := map[string]bool{}
	for _, u := range b.Users {
		keepUsers[string(u.ID)] = true
	}
	keepCreds := map[string]bool{}
	for _, c := range b.Credentials {
		keepCreds[string(c.ID)] = true
	}
	var goneCreds, goneUsers [][]byte
	_ = a.ownCreds.ForEach(func(k, _ []byte) error {
		if !keepCreds[string(k)] {
			goneCreds = append(goneCreds, clone(k))
		}
		return nil
	})
	_ = a.ownUsers.ForEach(func(k, _ []byte) error {
		if !keepUsers[string(k)] {
			goneUsers = append(goneUsers, clone(k))
		}
		return nil
	})
	for _, id := range goneCreds {
		if err := a.removeCredential(id, "removed", map[string]string{"why": "not in the directory at a full reload"}); err != nil {
			return err
		}
	}
	for _, id := range goneUsers {
		if err := a.removeUser(id); err != nil {
			return err
		}
	}
	return nil
}

// putUser stores a person from the directory. A person who could sign in
// and no longer can is reported in Stopped and audited.
func (a *mirrorTx) putUser(u *User) error {
	if err := checkID("user", u.ID, MaxUserIDLen); err != nil {
		return kiosk.E(kiosk.KindMalformed, a.op, err)
	}
	switch u.State {
	case UserActive, UserDisabled, UserLocked:
	default:
		return kiosk.Errorf(kiosk.KindMalformed, a.op, "user %x: unknown state %d", u.ID, u.State)
	}
	wasActive := false
	if old := a.users.Get(u.ID); old != nil {
		prev, err := decodeUser(u.ID, old)
		if err != nil {
			return err
		}
		wasActive = prev.State == UserActive
		if prev.Created.Before(u.Created) && !prev.Created.IsZero() {
			u.Created = prev.Created
		}
	}
	v, err := encodeUser(u)
	if err != nil {
		return err
	}
	if err := put(a.users, u.ID, v); err != nil {
		return err
	}
	if err := put(a.ownUsers, u.ID, nil); err != nil {
		return err
	}
	a.res.Users++
	if wasActive && u.State != UserActive {
		a.res.Stopped = append(a.res.Stopped, clone(u.ID))
		ev := AuditEvent{Time: a.at, Type: kiosk.EventFleetRevoked, Actor: "fleet", Terminal: a.terminal, UserID: u.ID,
			Detail: map[string]string{"what": "person", "state": u.State.String()}}
		if _, err := appendAudit(a.tx, &ev); err != nil {
			return err
		}
	}
	return nil
}

// putCredential stores a roaming credential from the directory. The
// signature counter and last use kept here are never lowered: the
// directory's copy lags behind this terminal's sign-ins, and a lower
// counter would let a clone through (WebAuthn §6.1.1).
func (a *mirrorTx) putCredential(c *Credential) error {
	if err := validCredential(c); err != nil {
		return kiosk.E(kiosk.KindMalformed, a.op, err)
	}
	if c.Kind != KindRoaming {
		return kiosk.Errorf(kiosk.KindMalformed, a.op, "credential %x from the directory is %s; only roaming credentials are shared", c.ID, c.Kind)
	}
	if a.users.Get(c.UserID) == nil {
		a.res.Skipped++
		return nil
	}
	if old := a.creds.Get(c.ID); old != nil {
		prev, err := decodeCredential(c.ID, old)
		if err != nil {
			return err
		}
		if prev.Kind != KindRoaming || !bytes.Equal(prev.UserID, c.UserID) {
			// Not the directory's to change: count it and leave it.
			a.res.Skipped++
			return nil
		}
		c.Counter = max(c.Counter, prev.Counter)
		if prev.LastUsed.After(c.LastUsed) {
			c.LastUsed = prev.LastUsed
		}
	}
	v, err := encodeCredential(c)
	if err != nil {
		return err
	}
	if err := put(a.creds, c.ID, v); err != nil {
		return err
	}
	if err := indexCredential(a.idx, c); err != nil {
		return err
	}
	if err := put(a.ownCreds, c.ID, nil); err != nil {
		return err
	}
	a.res.Creds++
	return nil
}

// removeCredential deletes a credential (of any kind) and audits it as
// revoked or removed by the fleet. An unknown ID is not an error: the
// revocation of a credential this terminal never had.
func (a *mirrorTx) removeCredential(id []byte, how string, detail map[string]string) error {
	_ = a.ownCreds.Delete(id)
	raw := a.creds.Get(id)
	if raw == nil {
		return nil
	}
	c, err := decodeCredential(id, raw)
	if err != nil {
		return err
	}
	if err := a.creds.Delete(id); err != nil {
		return err
	}
	if ub := a.idx.Bucket(c.UserID); ub != nil {
		if err := ub.Delete(id); err != nil {
			return err
		}
	}
	a.res.Revoked = append(a.res.Revoked, clone(id))
	typ := kiosk.EventCredentialRemoved
	if how == "revoked" {
		typ = kiosk.EventFleetRevoked
	}
	ev := AuditEvent{Time: a.at, Type: typ, Actor: "fleet", Terminal: a.terminal, UserID: c.UserID, CredentialID: c.ID,
		CredentialLabel: CredentialLabel(*c), Detail: mergeDetail(detail, map[string]string{"what": "credential", "fleet": how})}
	_, err = appendAudit(a.tx, &ev)
	return err
}

// removeUser deletes a person the directory no longer has, with their
// credentials (the terminal's platform ones too: their person is gone)
// and unused codes.
func (a *mirrorTx) removeUser(id []byte) error {
	_ = a.ownUsers.Delete(id)
	raw := a.users.Get(id)
	if raw == nil {
		return nil
	}
	u, err := decodeUser(id, raw)
	if err != nil {
		return err
	}
	creds, codes, err := deleteUserIn(a.tx, id)
	if err != nil {
		return err
	}
	for _, c := range creds {
		_ = a.ownCreds.Delete(c)
	}
	a.res.Stopped = append(a.res.Stopped, clone(id))
	a.res.Revoked = append(a.res.Revoked, creds...)
	ev := AuditEvent{Time: a.at, Type: kiosk.EventUserRemoved, Actor: "fleet", Terminal: a.terminal, UserID: id, UserName: u.Name,
		Detail: map[string]string{"name": u.Name, "credentials": strconv.Itoa(len(creds)), "codes": strconv.Itoa(codes), "fleet": "removed"}}
	_, err = appendAudit(a.tx, &ev)
	return err
}

// putPolicy stores the directory's policy as the next local version,
// unless the newest local version already says the same.
func (a *mirrorTx) putPolicy(p *Policy) error {
	b, err := bucket(a.tx, bucketPolicy)
	if err != nil {
		return err
	}
	var current uint64
	if k, v := b.Cursor().Last(); k != nil {
		cur, err := decodePolicy(k, v)
		if err != nil {
			return err
		}
		current = cur.Version
		if cur.Schema == p.Schema && bytes.Equal(cur.Data, p.Data) {
			return nil
		}
	}
	local := Policy{Version: current + 1, Schema: p.Schema, Data: p.Data, ChangedAt: p.ChangedAt, ChangedBy: p.ChangedBy,
		Comment: fmt.Sprintf("fleet policy version %d", p.Version)}
	if local.ChangedAt.IsZero() {
		local.ChangedAt = a.at
	}
	v, err := encodePolicy(&local)
	if err != nil {
		return err
	}
	if err := put(b, u64(local.Version), v); err != nil {
		return err
	}
	a.res.Policy = local.Version
	ev := AuditEvent{Time: a.at, Type: kiosk.EventPolicyChanged, Actor: "fleet", Terminal: a.terminal, Detail: map[string]string{
		"version": strconv.FormatUint(local.Version, 10), "schema": strconv.FormatUint(uint64(p.Schema), 10),
		"previous": strconv.FormatUint(current, 10), "fleet-version": strconv.FormatUint(p.Version, 10), "by": p.ChangedBy}}
	_, err = appendAudit(a.tx, &ev)
	return err
}

// putPlace keeps this terminal's place as the batch has it: stored when
// new or changed, removed when the directory deleted it or a full load
// does not have it. A change is audited as fleet-synced with the place.
func (a *mirrorTx) putPlace(b *MirrorBatch) error {
	old := a.m.Get(keyMirrorPlace)
	if b.Place == nil {
		if old == nil || (!b.PlaceRemoved && !b.Full) {
			return nil
		}
		if err := a.m.Delete(keyMirrorPlace); err != nil {
			return err
		}
		a.res.Place = true
		return a.auditPlace(map[string]string{"what": "place", "place": "removed"})
	}
	v, err := encodePlace(b.Place)
	if err != nil {
		return err
	}
	if old != nil && bytes.Equal(seal(keyMirrorPlace, v), old) {
		return nil
	}
	if err := put(a.m, keyMirrorPlace, v); err != nil {
		return err
	}
	a.res.Place = true
	detail := map[string]string{"what": "place", "site": b.Place.Site, "ward": b.Place.Ward, "by": b.Place.UpdatedBy}
	for k, l := range b.Place.Labels {
		detail["label."+k] = l
	}
	return a.auditPlace(detail)
}

func (a *mirrorTx) auditPlace(detail map[string]string) error {
	ev := AuditEvent{Time: a.at, Type: kiosk.EventFleetSynced, Actor: "fleet", Terminal: a.terminal, Detail: detail}
	_, err := appendAudit(a.tx, &ev)
	return err
}

// checkMirror proves the mirror's values are sealed (absent: never a
// fleet terminal).
func checkMirror(tx *bolt.Tx) error {
	m := tx.Bucket(bucketMirror)
	if m == nil {
		return nil
	}
	return m.ForEach(func(k, v []byte) error {
		if v != nil && bytes.Equal(k, keyMirrorPlace) {
			_, err := decodePlace(k, v)
			return err
		}
		if v != nil {
			if _, err := unseal("check mirror", k, v); err != nil {
				return err
			}
			if len(v) != 8+sealLen {
				return fmt.Errorf("mirror/%s: %d bytes", k, len(v))
			}
			return nil
		}
		sb := m.Bucket(k)
		return sb.ForEach(func(id, v []byte) error {
			_, err := unseal("check mirror", id, v)
			return err
		})
	})
}
