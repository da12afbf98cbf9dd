package fleet

import (
	"context"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// What the fleet service's admin API reads (package fleetadmin): the
// directory's records in full, and what terminals say under term/.

// UserRecord is a person in the directory and the administrator who
// changed them last.
type UserRecord struct {
	store.User
	UpdatedBy string
}

// list reads every record under prefix. A record that does not decode is
// an error naming its key: IT must see it rather than miss it.
func list[T any](ctx context.Context, cl *clientv3.Client, op, prefix string, dec func([]byte) (T, error)) ([]T, error) {
	r, err := cl.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, kiosk.E(kiosk.KindOffline, op, err)
	}
	out := make([]T, 0, len(r.Kvs))
	for _, kv := range r.Kvs {
		v, err := dec(kv.Value)
		if err != nil {
			return nil, kiosk.Errorf(kiosk.KindMalformed, op, "%s: %v", kv.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Users lists the directory's people.
func (d *Directory) Users(ctx context.Context) ([]UserRecord, error) {
	return list(ctx, d.Client, "list users", usersPrefix, func(b []byte) (UserRecord, error) {
		u, by, err := DecodeUserBy(b)
		return UserRecord{User: u, UpdatedBy: by}, err
	})
}

// Credentials lists the directory's roaming credentials.
func (d *Directory) Credentials(ctx context.Context) ([]store.Credential, error) {
	return list(ctx, d.Client, "list credentials", credsPrefix, DecodeCredential)
}

// Revocations lists every revocation.
func (d *Directory) Revocations(ctx context.Context) ([]Revocation, error) {
	return list(ctx, d.Client, "list revocations", revokedPrefix, DecodeRevocation)
}

// Codes lists the enrollment codes, used ones included.
func (d *Directory) Codes(ctx context.Context) ([]Code, error) {
	return list(ctx, d.Client, "list codes", codesPrefix, DecodeCode)
}

// Policy is the current policy; Version 0 when none was ever put.
func (d *Directory) Policy(ctx context.Context) (store.Policy, error) {
	ps, err := list(ctx, d.Client, "read fleet policy", policyCurrent, DecodePolicy)
	if err != nil || len(ps) == 0 {
		return store.Policy{}, err
	}
	return ps[0], nil
}

// Revision is the revision of the directory's newest change: a terminal
// whose copy holds it is current.
func (d *Directory) Revision(ctx context.Context) (int64, error) {
	r, err := d.Client.Get(ctx, DirPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(1),
		clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend))
	if err != nil {
		return 0, kiosk.E(kiosk.KindOffline, "directory revision", err)
	}
	if len(r.Kvs) == 0 {
		return 0, nil
	}
	return r.Kvs[0].ModRevision, nil
}

// TermRecord is one value a terminal wrote under its own prefix.
type TermRecord struct {
	Terminal string
	Key      string
	Value    []byte
}

// TermRecords reads the values named rest (e.g. "heartbeat", or
// "platform/" for every key under it) under every terminal's prefix.
// The keys are listed first without their values, so the terminals'
// other records (audit entries waiting for the collector, observations)
// are not read.
func (d *Directory) TermRecords(ctx context.Context, rest string) ([]TermRecord, error) {
	const op = "read terminals' records"
	r, err := d.Client.Get(ctx, termPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, kiosk.E(kiosk.KindOffline, op, err)
	}
	var ops []clientv3.Op
	var out []TermRecord
	for _, kv := range r.Kvs {
		name, tail, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), termPrefix), "/")
		if ok && (tail == rest || strings.HasSuffix(rest, "/") && strings.HasPrefix(tail, rest)) {
			ops = append(ops, clientv3.OpGet(string(kv.Key)))
			out = append(out, TermRecord{Terminal: name, Key: string(kv.Key)})
		}
	}
	// A transaction holds at most 128 operations by default
	// (--max-txn-ops); all of them read at one revision.
	for i := 0; i < len(ops); i += 100 {
		t, err := d.Client.Txn(ctx).Then(ops[i:min(i+100, len(ops))]...).Commit()
		if err != nil {
			return nil, kiosk.E(kiosk.KindOffline, op, err)
		}
		for j, res := range t.Responses {
			if kvs := res.GetResponseRange().Kvs; len(kvs) > 0 {
				out[i+j].Value = kvs[0].Value
			}
		}
	}
	return out, nil
}

// DecodePlatform reads a value under PlatformKey.
func DecodePlatform(b []byte) (store.Credential, error) {
	w, err := decode("platform credential", b, func(w *platformWire) uint { return w.V })
	if err != nil {
		return store.Credential{}, err
	}
	if len(w.AAGUID) != 16 {
		return store.Credential{}, kiosk.Errorf(kiosk.KindMalformed, "decode platform credential", "AAGUID of %d bytes", len(w.AAGUID))
	}
	c := store.Credential{ID: w.ID, UserID: w.UserID, Kind: store.KindPlatform, PublicKey: w.PublicKey, Label: w.Label,
		Created: store.Unstamp(w.Created)}
	copy(c.AAGUID[:], w.AAGUID)
	return c, nil
}
