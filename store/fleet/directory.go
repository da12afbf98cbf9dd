package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Directory writes the directory: what IT's tools and the fleet service
// do with the directory's write role. Terminals never hold it (doc.go).
type Directory struct {
	Client *clientv3.Client
	Now    func() time.Time
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// PutUser creates or replaces a person.
func (d *Directory) PutUser(ctx context.Context, u store.User) (int64, error) {
	return d.PutUserBy(ctx, u, "")
}

// PutUserBy is PutUser recording the administrator who made the change.
func (d *Directory) PutUserBy(ctx context.Context, u store.User, by string) (int64, error) {
	if u.Created.IsZero() {
		u.Created = d.now()
	}
	u.Updated = d.now()
	v, err := EncodeUserBy(u, by)
	if err != nil {
		return 0, err
	}
	r, err := d.Client.Put(ctx, UserKey(u.ID), string(v))
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, "put user", err)
	}
	return r.Header.Revision, nil
}

// SetUserState disables, locks or enables a person, keeping the rest of
// their record; the revision it returns is the change's. by is the
// administrator who made the change.
func (d *Directory) SetUserState(ctx context.Context, id []byte, s store.UserState, by string) (int64, error) {
	return d.UpdateUser(ctx, id, by, func(u *store.User) error {
		u.State = s
		return nil
	})
}

// PutCredential stores a roaming credential's public part.
func (d *Directory) PutCredential(ctx context.Context, c store.Credential) (int64, error) {
	v, err := EncodeCredential(c)
	if err != nil {
		return 0, err
	}
	r, err := d.Client.Put(ctx, CredentialKey(c.ID), string(v))
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, "put credential", err)
	}
	return r.Header.Revision, nil
}

// Revoke removes a credential from the directory and records its
// revocation in one transaction: every terminal's mirror removes it,
// platform credentials of that ID included.
func (d *Directory) Revoke(ctx context.Context, credID, userID []byte, by, reason string) (int64, error) {
	v, err := EncodeRevocation(Revocation{CredentialID: credID, UserID: userID, At: d.now(), By: by, Reason: reason})
	if err != nil {
		return 0, err
	}
	t, err := d.Client.Txn(ctx).Then(clientv3.OpDelete(CredentialKey(credID)), clientv3.OpPut(RevokedKey(credID), string(v))).Commit()
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, "revoke credential", err)
	}
	return t.Header.Revision, nil
}

// PutPolicy stores a new policy version as current and among the
// versions, in one transaction, if base is still the current version.
func (d *Directory) PutPolicy(ctx context.Context, schema uint32, data []byte, base uint64, by string) (uint64, error) {
	const op = "put fleet policy"
	r, err := d.Client.Get(ctx, policyCurrent)
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, op, err)
	}
	var cur uint64
	var mod int64
	if len(r.Kvs) > 0 {
		p, err := DecodePolicy(r.Kvs[0].Value)
		if err != nil {
			return 0, err
		}
		cur, mod = p.Version, r.Kvs[0].ModRevision
	}
	if cur != base {
		return 0, kiosk.Errorf(kiosk.KindConflict, op, "policy version %d is current, the change was made against %d", cur, base)
	}
	p := store.Policy{Version: cur + 1, Schema: schema, Data: data, ChangedAt: d.now(), ChangedBy: by}
	v, err := EncodePolicy(p)
	if err != nil {
		return 0, err
	}
	t, err := d.Client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(policyCurrent), "=", mod)).
		Then(clientv3.OpPut(policyCurrent, string(v)), clientv3.OpPut(PolicyVersionKey(p.Version), string(v))).Commit()
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, op, err)
	}
	if !t.Succeeded {
		return 0, kiosk.Errorf(kiosk.KindConflict, op, "the policy changed meanwhile")
	}
	return p.Version, nil
}

// HashCode is the SHA-256 a code is stored and looked up by. Its domain
// label differs from the store's local codes, so a hash of one cannot
// stand for the other.
func HashCode(code string) ([]byte, bool) {
	norm, ok := store.NormaliseCode(code)
	h := sha256.Sum256([]byte("passkiosk fleet enrollment code v1\x00" + norm))
	return h[:], ok
}

// IssueCode makes a one-time code for a person, valid for ttl, and
// returns it once; the directory keeps only its hash.
func (d *Directory) IssueCode(ctx context.Context, userID []byte, purpose store.EnrollPurpose, ttl time.Duration, by string) (string, error) {
	const op = "issue fleet code"
	if ttl <= 0 || ttl > store.MaxEnrollTTL {
		return "", kiosk.Errorf(kiosk.KindMalformed, op, "ttl %s outside (0, %s]", ttl, store.MaxEnrollTTL)
	}
	code, err := store.NewCode()
	if err != nil {
		return "", err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	h, _ := HashCode(code)
	now := d.now()
	v, err := EncodeCode(Code{ID: id, Hash: h, UserID: userID, Purpose: purpose, Issued: now, Expires: now.Add(ttl), IssuedBy: by})
	if err != nil {
		return "", err
	}
	t, err := d.Client.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(UserKey(userID)), ">", 0)).
		Then(clientv3.OpPut(CodeKey(h), string(v))).Commit()
	if err != nil {
		return "", kiosk.E(kiosk.KindOffline, op, err)
	}
	if !t.Succeeded {
		return "", kiosk.Errorf(kiosk.KindNotFound, op, "no user %x in the directory", userID)
	}
	return code, nil
}
