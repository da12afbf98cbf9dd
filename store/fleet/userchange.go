package fleet

import (
	"bytes"
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// readUser reads person id's record and its mod revision.
func (d *Directory) readUser(ctx context.Context, op string, id []byte) (store.User, int64, error) {
	r, err := d.Client.Get(ctx, UserKey(id))
	if err != nil {
		return store.User{}, 0, kiosk.E(kiosk.KindOffline, op, err)
	}
	if len(r.Kvs) == 0 {
		return store.User{}, 0, kiosk.Errorf(kiosk.KindNotFound, op, "no user %x in the directory", id)
	}
	u, err := DecodeUser(r.Kvs[0].Value)
	return u, r.Kvs[0].ModRevision, err
}

// commitIf runs ops if key still has mod revision mod.
func (d *Directory) commitIf(ctx context.Context, op, key string, mod int64, ops ...clientv3.Op) (int64, error) {
	t, err := d.Client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", mod)).Then(ops...).Commit()
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, op, err)
	}
	if !t.Succeeded {
		return 0, kiosk.Errorf(kiosk.KindConflict, op, "%s changed meanwhile; try again", key)
	}
	return t.Header.Revision, nil
}

// UpdateUser changes person id's record with change, if no one changed
// it meanwhile, recording by as who did; the revision is the change's.
func (d *Directory) UpdateUser(ctx context.Context, id []byte, by string, change func(*store.User) error) (int64, error) {
	const op = "update user"
	u, mod, err := d.readUser(ctx, op, id)
	if err != nil {
		return 0, err
	}
	if err := change(&u); err != nil {
		return 0, err
	}
	u.Updated = d.now()
	v, err := EncodeUserBy(u, by)
	if err != nil {
		return 0, err
	}
	return d.commitIf(ctx, op, UserKey(id), mod, clientv3.OpPut(UserKey(id), string(v)))
}

// RemoveUser deletes person id, revokes every credential of theirs
// (roaming ones leave the directory; platform ones, kept by their
// terminals, are revoked by ID, so every mirror drops them) and deletes
// their unused codes, in one transaction.
func (d *Directory) RemoveUser(ctx context.Context, id []byte, by string) (int64, error) {
	const op = "remove user"
	_, mod, err := d.readUser(ctx, op, id)
	if err != nil {
		return 0, err
	}
	ops := []clientv3.Op{clientv3.OpDelete(UserKey(id))}
	revoke := func(cred []byte) error {
		v, err := EncodeRevocation(Revocation{CredentialID: cred, UserID: id, At: d.now(), By: by, Reason: "user removed"})
		ops = append(ops, clientv3.OpDelete(CredentialKey(cred)), clientv3.OpPut(RevokedKey(cred), string(v)))
		return err
	}
	if err := d.ofUser(ctx, id, revoke); err != nil {
		return 0, err
	}
	codes, err := d.Codes(ctx)
	if err != nil {
		return 0, err
	}
	for _, c := range codes {
		if bytes.Equal(c.UserID, id) && c.UsedAt.IsZero() {
			ops = append(ops, clientv3.OpDelete(CodeKey(c.Hash)))
		}
	}
	if len(ops) > 120 {
		return 0, kiosk.Errorf(kiosk.KindConflict, op, "user %x has too many credentials and codes for one transaction (%d operations): revoke some first", id, len(ops))
	}
	return d.commitIf(ctx, op, UserKey(id), mod, ops...)
}

// ofUser calls fn with the ID of every credential of person id: the
// directory's roaming ones and the terminals' platform ones.
func (d *Directory) ofUser(ctx context.Context, id []byte, fn func(cred []byte) error) error {
	roaming, err := d.Credentials(ctx)
	if err != nil {
		return err
	}
	for _, c := range roaming {
		if bytes.Equal(c.UserID, id) {
			if err := fn(c.ID); err != nil {
				return err
			}
		}
	}
	plats, err := d.TermRecords(ctx, "platform/")
	if err != nil {
		return err
	}
	for _, p := range plats {
		if c, err := DecodePlatform(p.Value); err == nil && bytes.Equal(c.UserID, id) {
			if err := fn(c.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// CancelCode deletes an unused code, if no one used it meanwhile.
func (d *Directory) CancelCode(ctx context.Context, c Code) (int64, error) {
	const op = "cancel fleet code"
	r, err := d.Client.Get(ctx, CodeKey(c.Hash))
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, op, err)
	}
	if len(r.Kvs) == 0 {
		return 0, kiosk.Errorf(kiosk.KindNotFound, op, "no code %x", c.ID)
	}
	k, err := DecodeCode(r.Kvs[0].Value)
	if err != nil {
		return 0, err
	}
	if !k.UsedAt.IsZero() {
		return 0, kiosk.Errorf(kiosk.KindConflict, op, "code %x was used at %s", c.ID, k.UsedTerminal)
	}
	return d.commitIf(ctx, op, CodeKey(c.Hash), r.Kvs[0].ModRevision, clientv3.OpDelete(CodeKey(c.Hash)))
}
