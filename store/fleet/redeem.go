package fleet

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Redemption is a code typed at a terminal and the credential registered
// with it.
type Redemption struct {
	Code     string
	Terminal string
	// Credential is stored in the same transaction that uses the code up:
	// a roaming credential's public part in the directory, a platform
	// credential's public metadata under the terminal's prefix.
	Credential store.Credential
}

// LookupCode says whether code would be accepted now, without using it.
// Refusals are kiosk.KindChallenge, as the store's local codes.
func (d *Directory) LookupCode(ctx context.Context, code string) (Code, error) {
	c, _, err := d.lookup(ctx, "look up fleet code", code)
	return c, err
}

func (d *Directory) lookup(ctx context.Context, op, code string) (Code, int64, error) {
	h, ok := HashCode(code)
	if !ok {
		return Code{}, 0, kiosk.Errorf(kiosk.KindChallenge, op, "unknown enrollment code")
	}
	r, err := d.Client.Get(ctx, CodeKey(h))
	if err != nil {
		return Code{}, 0, kiosk.E(kiosk.KindOffline, op, err)
	}
	if len(r.Kvs) == 0 {
		return Code{}, 0, kiosk.Errorf(kiosk.KindChallenge, op, "unknown enrollment code")
	}
	c, err := DecodeCode(r.Kvs[0].Value)
	if err != nil {
		return Code{}, 0, err
	}
	switch {
	case !c.UsedAt.IsZero():
		return c, 0, kiosk.Errorf(kiosk.KindChallenge, op, "enrollment code was already used at %s", c.UsedTerminal)
	case !d.now().Before(c.Expires):
		return c, 0, kiosk.Errorf(kiosk.KindChallenge, op, "enrollment code expired at %s", c.Expires.Format(time.RFC3339))
	}
	return c, r.Kvs[0].ModRevision, nil
}

// Redeem uses a code up and stores the credential registered with it in
// one etcd transaction: it succeeds only if the code's record is still
// the unused one just read, and the credential's key does not exist yet.
// Of any number of terminals racing with one code, one wins; the others
// get kiosk.KindChallenge ("already used"). It returns the code's record
// and the revision of the change.
func (d *Directory) Redeem(ctx context.Context, r Redemption) (Code, int64, error) {
	const op = "redeem fleet code"
	c, mod, err := d.lookup(ctx, op, r.Code)
	if err != nil {
		return c, 0, err
	}
	cred := r.Credential
	if string(cred.UserID) != string(c.UserID) {
		return c, 0, kiosk.Errorf(kiosk.KindConflict, op, "the credential is for another person than the code")
	}
	var credKey, credVal string
	switch cred.Kind {
	case store.KindRoaming:
		v, err := EncodeCredential(cred)
		if err != nil {
			return c, 0, err
		}
		credKey, credVal = CredentialKey(cred.ID), string(v)
	case store.KindPlatform:
		v, err := EncodePlatform(cred)
		if err != nil {
			return c, 0, err
		}
		credKey, credVal = PlatformKey(r.Terminal, cred.ID), string(v)
	default:
		return c, 0, kiosk.Errorf(kiosk.KindMalformed, op, "credential of kind %s", cred.Kind)
	}
	used := c
	used.UsedAt, used.UsedTerminal = d.now(), r.Terminal
	uv, err := EncodeCode(used)
	if err != nil {
		return c, 0, err
	}
	codeKey := CodeKey(c.Hash)
	ops := []clientv3.Op{clientv3.OpPut(codeKey, string(uv)), clientv3.OpPut(credKey, credVal)}
	if c.Purpose == store.PurposeRecovery {
		// The person lost their keys: whoever holds them now must not
		// sign in as them, on any terminal. Their other roaming keys are
		// revoked in the same transaction.
		more, err := d.revokeOthers(ctx, c.UserID, cred.ID, r.Terminal)
		if err != nil {
			return c, 0, err
		}
		ops = append(ops, more...)
	}
	t, err := d.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(codeKey), "=", mod),
			clientv3.Compare(clientv3.CreateRevision(credKey), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(RevokedKey(cred.ID)), "=", 0)).
		Then(ops...).Commit()
	if err != nil {
		return c, 0, kiosk.E(kiosk.KindOffline, op, err)
	}
	if !t.Succeeded {
		// Say why: the code went first, or the credential exists.
		if _, _, err := d.lookup(ctx, op, r.Code); err != nil {
			return c, 0, err
		}
		return c, 0, kiosk.Errorf(kiosk.KindConflict, op, "credential %x is already registered or revoked", cred.ID)
	}
	return used, t.Header.Revision, nil
}

type platformWire struct {
	V         uint   `cbor:"0,keyasint"`
	ID        []byte `cbor:"1,keyasint"`
	UserID    []byte `cbor:"2,keyasint"`
	PublicKey []byte `cbor:"3,keyasint"`
	AAGUID    []byte `cbor:"4,keyasint"`
	Label     string `cbor:"5,keyasint,omitempty"`
	Created   int64  `cbor:"6,keyasint,omitempty"`
}

// EncodePlatform is a platform credential's public metadata under
// PlatformKey: never its TPM key blobs.
func EncodePlatform(c store.Credential) ([]byte, error) {
	return encode("platform credential", platformWire{V: recordVersion, ID: c.ID, UserID: c.UserID, PublicKey: c.PublicKey,
		AAGUID: c.AAGUID[:], Label: c.Label, Created: store.Stamp(c.Created)})
}

// revokeOthers is the operations that revoke every roaming credential of
// user in the directory but keep. The directory has no index by person,
// so the credentials are read in full; a recovery is rare.
func (d *Directory) revokeOthers(ctx context.Context, user, keep []byte, terminal string) ([]clientv3.Op, error) {
	r, err := d.Client.Get(ctx, credsPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, kiosk.E(kiosk.KindOffline, "recovery", err)
	}
	var ops []clientv3.Op
	for _, kv := range r.Kvs {
		c, err := DecodeCredential(kv.Value)
		if err != nil || string(c.UserID) != string(user) || string(c.ID) == string(keep) {
			continue
		}
		v, err := EncodeRevocation(Revocation{CredentialID: c.ID, UserID: user, At: d.now(), By: "recovery",
			Reason: "recovery code redeemed at " + terminal})
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpDelete(string(kv.Key)), clientv3.OpPut(RevokedKey(c.ID), string(v)))
	}
	return ops, nil
}
