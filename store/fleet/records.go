package fleet

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"
	"passkiosk/store"
)

// Prefix is where everything of the fleet lives in etcd.
const Prefix = "/passkiosk/v1/"

// Key prefixes (doc.go draws the tree).
const (
	DirPrefix      = Prefix + "dir/"
	usersPrefix    = DirPrefix + "users/"
	credsPrefix    = DirPrefix + "creds/"
	revokedPrefix  = DirPrefix + "revoked/"
	policyCurrent  = DirPrefix + "policy/current"
	policyVersions = DirPrefix + "policy/v/"
	codesPrefix    = Prefix + "codes/"
	termPrefix     = Prefix + "term/"
)

// recordVersion is the version of every value written here; key 0 of
// each map.
const recordVersion = 1

// UserKey, CredentialKey, RevokedKey and CodeKey name a record in etcd.
func UserKey(id []byte) string       { return usersPrefix + hex.EncodeToString(id) }
func CredentialKey(id []byte) string { return credsPrefix + hex.EncodeToString(id) }
func RevokedKey(id []byte) string    { return revokedPrefix + hex.EncodeToString(id) }
func CodeKey(hash []byte) string     { return codesPrefix + hex.EncodeToString(hash) }

// PolicyVersionKey names one stored version of the policy.
func PolicyVersionKey(v uint64) string { return fmt.Sprintf("%s%020d", policyVersions, v) }

// TerminalPrefix is what terminal name alone may write.
func TerminalPrefix(name string) string { return termPrefix + name + "/" }

// HeartbeatKey, SeenKey and PlatformKey are keys under TerminalPrefix.
func HeartbeatKey(name string) string { return TerminalPrefix(name) + "heartbeat" }
func SeenKey(name string, cred []byte) string {
	return TerminalPrefix(name) + "seen/" + hex.EncodeToString(cred)
}
func PlatformKey(name string, cred []byte) string {
	return TerminalPrefix(name) + "platform/" + hex.EncodeToString(cred)
}

// ValidTerminalName says whether name can be a terminal's etcd user and
// key segment: letters, digits, dot, dash and underscore, 1–64 of them.
// The appliance's display name (kiosk config "terminal") may hold spaces;
// the fleet name is the certificate's common name.
func ValidTerminalName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("fleet terminal name %q: must be 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return fmt.Errorf("fleet terminal name %q: only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// decode reads a versioned record and insists it re-encodes to the same
// bytes, as the store does: a value that is not canonical, or holds a
// field this build does not know, is refused rather than half-read.
func decode[W any](what string, b []byte, version func(*W) uint) (*W, error) {
	var w W
	if err := cbor.Unmarshal(b, &w); err != nil {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "decode "+what, "%v", err)
	}
	if v := version(&w); v != recordVersion {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "decode "+what, "record version %d, this build reads %d", v, recordVersion)
	}
	again, err := cbor.Marshal(&w)
	if err != nil || !bytes.Equal(again, b) {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "decode "+what, "not in canonical form")
	}
	return &w, nil
}

func encode(what string, w any) ([]byte, error) {
	b, err := cbor.Marshal(w)
	if err != nil {
		return nil, kiosk.E(kiosk.KindMalformed, "encode "+what, err)
	}
	return b, nil
}

type userWire struct {
	V           uint            `cbor:"0,keyasint"`
	ID          []byte          `cbor:"1,keyasint"`
	Name        string          `cbor:"2,keyasint,omitempty"`
	DisplayName string          `cbor:"3,keyasint,omitempty"`
	Groups      []string        `cbor:"4,keyasint,omitempty"`
	State       store.UserState `cbor:"5,keyasint"`
	Created     int64           `cbor:"6,keyasint,omitempty"`
	Updated     int64           `cbor:"7,keyasint,omitempty"`
	UpdatedBy   string          `cbor:"8,keyasint,omitempty"`
}

// EncodeUser is a person's value under UserKey.
func EncodeUser(u store.User) ([]byte, error) { return EncodeUserBy(u, "") }

// EncodeUserBy is EncodeUser recording the administrator who made the
// change (the mirror does not keep it; the directory does, for IT).
func EncodeUserBy(u store.User, by string) ([]byte, error) {
	return encode("user", userWire{V: recordVersion, ID: u.ID, Name: u.Name, DisplayName: u.DisplayName,
		Groups: u.Groups, State: u.State, Created: store.Stamp(u.Created), Updated: store.Stamp(u.Updated), UpdatedBy: by})
}

// DecodeUser reads a value under UserKey.
func DecodeUser(b []byte) (store.User, error) {
	u, _, err := DecodeUserBy(b)
	return u, err
}

// DecodeUserBy reads a value under UserKey and who changed it last.
func DecodeUserBy(b []byte) (store.User, string, error) {
	w, err := decode("user", b, func(w *userWire) uint { return w.V })
	if err != nil {
		return store.User{}, "", err
	}
	return store.User{ID: w.ID, Name: w.Name, DisplayName: w.DisplayName, Groups: w.Groups, State: w.State,
		Created: store.Unstamp(w.Created), Updated: store.Unstamp(w.Updated)}, w.UpdatedBy, nil
}

type credentialWire struct {
	V          uint     `cbor:"0,keyasint"`
	ID         []byte   `cbor:"1,keyasint"`
	UserID     []byte   `cbor:"2,keyasint"`
	PublicKey  []byte   `cbor:"4,keyasint"`
	Counter    uint32   `cbor:"5,keyasint,omitempty"`
	AAGUID     []byte   `cbor:"6,keyasint"`
	Transports []string `cbor:"7,keyasint,omitempty"`
	Format     string   `cbor:"8,keyasint,omitempty"`
	Label      string   `cbor:"9,keyasint,omitempty"`
	Created    int64    `cbor:"10,keyasint,omitempty"`
	BE         bool     `cbor:"13,keyasint,omitempty"`
}

// EncodeCredential is a roaming credential's public part under
// CredentialKey. A platform credential is refused: its key lives in one
// TPM and is never shared.
func EncodeCredential(c store.Credential) ([]byte, error) {
	if c.Kind != store.KindRoaming || c.TPM != nil {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "encode credential", "only roaming credentials go to the directory, not %s", c.Kind)
	}
	return encode("credential", credentialWire{V: recordVersion, ID: c.ID, UserID: c.UserID, PublicKey: c.PublicKey,
		Counter: c.Counter, AAGUID: c.AAGUID[:], Transports: c.Transports, Format: c.Format, Label: c.Label,
		Created: store.Stamp(c.Created), BE: c.BackupEligible})
}

// DecodeCredential reads a value under CredentialKey.
func DecodeCredential(b []byte) (store.Credential, error) {
	w, err := decode("credential", b, func(w *credentialWire) uint { return w.V })
	if err != nil {
		return store.Credential{}, err
	}
	if len(w.AAGUID) != 16 {
		return store.Credential{}, kiosk.Errorf(kiosk.KindMalformed, "decode credential", "AAGUID of %d bytes", len(w.AAGUID))
	}
	c := store.Credential{ID: w.ID, UserID: w.UserID, Kind: store.KindRoaming, PublicKey: w.PublicKey, Counter: w.Counter,
		Transports: w.Transports, Format: w.Format, Label: w.Label, Created: store.Unstamp(w.Created), BackupEligible: w.BE}
	copy(c.AAGUID[:], w.AAGUID)
	return c, nil
}

// Revocation is a credential IT revoked.
type Revocation struct {
	CredentialID []byte
	UserID       []byte
	At           time.Time
	By           string
	Reason       string
}

type revocationWire struct {
	V      uint   `cbor:"0,keyasint"`
	ID     []byte `cbor:"1,keyasint"`
	UserID []byte `cbor:"2,keyasint,omitempty"`
	At     int64  `cbor:"3,keyasint"`
	By     string `cbor:"4,keyasint,omitempty"`
	Reason string `cbor:"5,keyasint,omitempty"`
}

// EncodeRevocation is a value under RevokedKey.
func EncodeRevocation(r Revocation) ([]byte, error) {
	return encode("revocation", revocationWire{V: recordVersion, ID: r.CredentialID, UserID: r.UserID, At: store.Stamp(r.At), By: r.By, Reason: r.Reason})
}

// DecodeRevocation reads a value under RevokedKey.
func DecodeRevocation(b []byte) (Revocation, error) {
	w, err := decode("revocation", b, func(w *revocationWire) uint { return w.V })
	if err != nil {
		return Revocation{}, err
	}
	return Revocation{CredentialID: w.ID, UserID: w.UserID, At: store.Unstamp(w.At), By: w.By, Reason: w.Reason}, nil
}

// EncodePolicy is a value under policy/current and policy/v/: the
// store's own policy record.
func EncodePolicy(p store.Policy) ([]byte, error) { return store.EncodePolicy(p) }

// DecodePolicy reads a policy value; a bad one is KindMalformed.
func DecodePolicy(b []byte) (store.Policy, error) {
	p, err := store.DecodePolicy(b)
	if err != nil {
		return store.Policy{}, kiosk.E(kiosk.KindMalformed, "decode policy", err)
	}
	return p, nil
}

// Code is an enrollment code in the directory: only its hash.
type Code struct {
	ID           []byte
	Hash         []byte
	UserID       []byte
	Purpose      store.EnrollPurpose
	Issued       time.Time
	Expires      time.Time
	IssuedBy     string
	UsedAt       time.Time
	UsedTerminal string
}

type codeWire struct {
	V            uint                `cbor:"0,keyasint"`
	ID           []byte              `cbor:"1,keyasint"`
	Hash         []byte              `cbor:"2,keyasint"`
	UserID       []byte              `cbor:"3,keyasint"`
	Purpose      store.EnrollPurpose `cbor:"4,keyasint"`
	Issued       int64               `cbor:"5,keyasint"`
	Expires      int64               `cbor:"6,keyasint"`
	IssuedBy     string              `cbor:"7,keyasint,omitempty"`
	UsedAt       int64               `cbor:"8,keyasint,omitempty"`
	UsedTerminal string              `cbor:"9,keyasint,omitempty"`
}

// EncodeCode is a value under CodeKey.
func EncodeCode(c Code) ([]byte, error) {
	return encode("code", codeWire{V: recordVersion, ID: c.ID, Hash: c.Hash, UserID: c.UserID, Purpose: c.Purpose,
		Issued: store.Stamp(c.Issued), Expires: store.Stamp(c.Expires), IssuedBy: c.IssuedBy, UsedAt: store.Stamp(c.UsedAt), UsedTerminal: c.UsedTerminal})
}

// DecodeCode reads a value under CodeKey.
func DecodeCode(b []byte) (Code, error) {
	w, err := decode("code", b, func(w *codeWire) uint { return w.V })
	if err != nil {
		return Code{}, err
	}
	return Code{ID: w.ID, Hash: w.Hash, UserID: w.UserID, Purpose: w.Purpose, Issued: store.Unstamp(w.Issued),
		Expires: store.Unstamp(w.Expires), IssuedBy: w.IssuedBy, UsedAt: store.Unstamp(w.UsedAt), UsedTerminal: w.UsedTerminal}, nil
}

// Heartbeat is what a terminal says about itself under its lease.
type Heartbeat struct {
	Revision     int64
	At           time.Time
	OfflineSince time.Time
}

type heartbeatWire struct {
	V            uint  `cbor:"0,keyasint"`
	Revision     int64 `cbor:"1,keyasint"`
	At           int64 `cbor:"2,keyasint"`
	OfflineSince int64 `cbor:"3,keyasint,omitempty"`
}

// EncodeHeartbeat is a value under HeartbeatKey.
func EncodeHeartbeat(h Heartbeat) ([]byte, error) {
	return encode("heartbeat", heartbeatWire{V: recordVersion, Revision: h.Revision, At: store.Stamp(h.At), OfflineSince: store.Stamp(h.OfflineSince)})
}

// DecodeHeartbeat reads a value under HeartbeatKey.
func DecodeHeartbeat(b []byte) (Heartbeat, error) {
	w, err := decode("heartbeat", b, func(w *heartbeatWire) uint { return w.V })
	if err != nil {
		return Heartbeat{}, err
	}
	return Heartbeat{Revision: w.Revision, At: store.Unstamp(w.At), OfflineSince: store.Unstamp(w.OfflineSince)}, nil
}

// Seen is the last signature counter a terminal saw for a roaming
// credential.
type Seen struct {
	CredentialID []byte
	Counter      uint32
	At           time.Time
}

type seenWire struct {
	V       uint   `cbor:"0,keyasint"`
	ID      []byte `cbor:"1,keyasint"`
	Counter uint32 `cbor:"2,keyasint"`
	At      int64  `cbor:"3,keyasint"`
}

// EncodeSeen is a value under SeenKey.
func EncodeSeen(s Seen) ([]byte, error) {
	return encode("observation", seenWire{V: recordVersion, ID: s.CredentialID, Counter: s.Counter, At: store.Stamp(s.At)})
}

// DecodeSeen reads a value under SeenKey.
func DecodeSeen(b []byte) (Seen, error) {
	w, err := decode("observation", b, func(w *seenWire) uint { return w.V })
	if err != nil {
		return Seen{}, err
	}
	return Seen{CredentialID: w.ID, Counter: w.Counter, At: store.Unstamp(w.At)}, nil
}
