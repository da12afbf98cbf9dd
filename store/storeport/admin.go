package storeport

import (
	"bytes"
	"encoding/hex"
	"io"
	"sort"
	"strconv"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/auditfile"
	"passkiosk/kiosk/policy"
	"passkiosk/store"
)

// Admin is the admin API's Store port over the database. IDs cross the
// socket as hex.
type Admin struct {
	db       *store.DB
	terminal string
	// sign signs export headers (WithSigner); nil: exports are unsigned.
	sign func(*auditfile.Header) error
}

var _ admin.Store = Admin{}

// NewAdmin serves the admin API from db; changes are audited as made at
// terminal.
func NewAdmin(db *store.DB, terminal string) Admin { return Admin{db: db, terminal: terminal} }

// WithSigner has audit exports signed by sign (the terminal's TPM).
func (s Admin) WithSigner(sign func(*auditfile.Header) error) Admin {
	s.sign = sign
	return s
}

func (s Admin) change(ch admin.Change) store.Change {
	return store.Change{Actor: ch.Actor, Terminal: s.terminal, Detail: ch.Detail}
}

func unhex(what, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "admin", "%s id %q is not hex", what, s)
	}
	return b, nil
}

var userStates = map[string]store.UserState{"active": store.UserActive, "disabled": store.UserDisabled, "locked": store.UserLocked}

func adminUser(u store.User) admin.User {
	g := u.Groups
	if g == nil {
		g = []string{}
	}
	return admin.User{ID: hex.EncodeToString(u.ID), Name: u.Name, DisplayName: u.DisplayName, Groups: g,
		State: u.State.String(), Created: u.Created, Updated: u.Updated}
}

func (s Admin) Users() ([]admin.User, error) {
	us, err := s.db.Users()
	out := make([]admin.User, len(us))
	for i, u := range us {
		out[i] = adminUser(u)
	}
	return out, err
}

func (s Admin) PutUser(u admin.User, ch admin.Change) error {
	id, err := unhex("user", u.ID)
	if err != nil {
		return err
	}
	st, ok := userStates[u.State]
	if !ok {
		return kiosk.Errorf(kiosk.KindMalformed, "put user", "unknown state %q", u.State)
	}
	return s.db.PutUser(store.User{ID: id, Name: u.Name, DisplayName: u.DisplayName, Groups: u.Groups, State: st}, s.change(ch))
}

func (s Admin) RemoveUser(id string, ch admin.Change) error {
	b, err := unhex("user", id)
	if err != nil {
		return err
	}
	return s.db.RemoveUser(b, s.change(ch))
}

func adminCred(c store.Credential) admin.Credential {
	return admin.Credential{ID: hex.EncodeToString(c.ID), UserID: hex.EncodeToString(c.UserID), Kind: c.Kind.String(),
		AAGUID: policy.FormatAAGUID(c.AAGUID), Label: c.Label, Name: store.CredentialLabel(c), Model: kiosk.AAGUID(c.AAGUID).Model(),
		Format: c.Format, Counter: c.Counter, Created: c.Created, LastUsed: c.LastUsed}
}

func (s Admin) Credentials(userID string) ([]admin.Credential, error) {
	b, err := unhex("user", userID)
	if err != nil {
		return nil, err
	}
	cs, err := s.db.CredentialsOf(b)
	out := make([]admin.Credential, len(cs))
	for i, c := range cs {
		out[i] = adminCred(c)
	}
	return out, err
}

func (s Admin) RemoveCredential(id string, ch admin.Change) error {
	b, err := unhex("credential", id)
	if err != nil {
		return err
	}
	return s.db.RemoveCredential(b, s.change(ch))
}

var purposes = map[string]store.EnrollPurpose{"enroll": store.PurposeEnroll, "recovery": store.PurposeRecovery, "bootstrap": store.PurposeBootstrap}

func adminCode(c store.EnrollmentCode) admin.Code {
	return admin.Code{ID: hex.EncodeToString(c.ID), UserID: hex.EncodeToString(c.UserID), Purpose: c.Purpose.String(),
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, IssuedBy: c.IssuedBy, UsedAt: c.UsedAt}
}

func (s Admin) IssueCode(userID, purpose string, ttl time.Duration, ch admin.Change) (string, admin.Code, error) {
	var uid []byte
	if userID != "" {
		var err error
		if uid, err = unhex("user", userID); err != nil {
			return "", admin.Code{}, err
		}
	}
	code, rec, err := s.db.IssueEnrollmentCode(uid, purposes[purpose], ttl, s.change(ch))
	if err != nil {
		return "", admin.Code{}, err
	}
	return code, adminCode(*rec), nil
}

// Codes lists the stored codes, oldest first (never the codes themselves:
// only their hashes are kept).
func (s Admin) Codes() ([]admin.Code, error) {
	cs, err := s.db.EnrollmentCodes()
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].IssuedAt.Before(cs[j].IssuedAt) })
	out := make([]admin.Code, len(cs))
	for i, c := range cs {
		out[i] = adminCode(c)
	}
	return out, err
}

func (s Admin) CancelCode(id string, ch admin.Change) error {
	b, err := unhex("code", id)
	if err != nil {
		return err
	}
	return s.db.CancelEnrollmentCode(b, s.change(ch))
}

func (s Admin) Policy() (admin.StoredPolicy, error) {
	p, err := s.db.CurrentPolicy()
	if err != nil {
		return admin.StoredPolicy{}, err
	}
	return admin.StoredPolicy{Version: p.Version, Schema: p.Schema, Data: p.Data, ChangedAt: p.ChangedAt, ChangedBy: p.ChangedBy}, nil
}

func (s Admin) PutPolicy(schema uint32, data []byte, base uint64, ch admin.Change) (uint64, error) {
	return s.db.PutPolicy(schema, data, base, s.change(ch))
}

func (s Admin) Sessions(openOnly bool) ([]admin.SessionRecord, error) {
	ss, err := s.db.Sessions(openOnly)
	out := make([]admin.SessionRecord, len(ss))
	for i, x := range ss {
		out[i] = admin.SessionRecord{ID: x.ID, UserID: hex.EncodeToString(x.UserID), Terminal: x.Terminal,
			OpenedAt: x.OpenedAt, EndedAt: x.EndedAt, Wiped: x.Wiped}
		if !x.EndedAt.IsZero() {
			out[i].Cause = x.Cause.String()
		}
	}
	return out, err
}

// Written is closed by the store's next committed write
// (admin.WriteSignal).
func (s Admin) Written() <-chan struct{} { return s.db.Written() }

// AuditHead reads meta/audit-head alone: status, tail and follow ask
// for it, and walking the whole log for each would grow with the log.
// VerifyAudit walks it.
func (s Admin) AuditHead() (admin.ChainHead, error) {
	seq, hash, err := s.db.AuditHead()
	return admin.ChainHead{Seq: seq, Hash: hex.EncodeToString(hash)}, err
}

func (s Admin) Events(from uint64, limit int) ([]admin.AuditEntry, error) {
	evs, err := s.db.Events(from, limit)
	if err != nil {
		return nil, err
	}
	nameOld(s.db, evs)
	out := make([]admin.AuditEntry, len(evs))
	for i := range evs {
		if out[i], err = evs[i].Entry(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ExportAudit writes the store's export: a header naming this terminal
// and the chain's head, then one readable line per entry with its hashed
// body (store.Export).
func (s Admin) ExportAudit(w io.Writer, from uint64) (int, error) {
	return s.db.Export(w, from, s.terminal, time.Time{}, s.sign)
}

func (s Admin) VerifyAudit() (admin.Chain, error) {
	c, err := s.db.VerifyChain()
	return admin.Chain{Anchor: c.Anchor, Head: c.Head, Entries: c.Entries, Hash: hex.EncodeToString(c.Hash)}, err
}

// EndRequested audits the request as EventSessionEndRequested, naming
// the journal's newest session of the user at this terminal (the one in
// progress, or the one the request just ended). The engine's own entry,
// EventSessionEnded with cause admin, records the end.
func (s Admin) EndRequested(userID string, accepted bool, ch admin.Change) error {
	uid, err := unhex("user", userID)
	if err != nil {
		return err
	}
	ev := store.AuditEvent{Type: kiosk.EventSessionEndRequested, Actor: ch.Actor, Terminal: s.terminal, UserID: uid,
		Detail: mergeDetail(ch.Detail, map[string]string{"accepted": strconv.FormatBool(accepted)})}
	journal, err := s.db.Sessions(false)
	if err != nil {
		return err
	}
	for i := len(journal) - 1; i >= 0; i-- {
		if bytes.Equal(journal[i].UserID, uid) && journal[i].Terminal == s.terminal {
			ev.SessionID = journal[i].ID
			break
		}
	}
	_, err = s.db.Append(ev)
	return err
}

func mergeDetail(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

var _ admin.PINTriesStore = Admin{}

// ClearPINTries lifts a person's suspension after wrong TPM PINs and
// audits who did it, as a change of the user.
func (s Admin) ClearPINTries(userID string, ch admin.Change) (bool, error) {
	uid, err := unhex("user", userID)
	if err != nil {
		return false, err
	}
	had, err := s.db.ClearPINTries(uid)
	if err != nil {
		return false, err
	}
	_, err = s.db.Append(store.AuditEvent{Type: kiosk.EventUserChanged, Actor: ch.Actor, Terminal: s.terminal, UserID: uid,
		Detail: mergeDetail(ch.Detail, map[string]string{"had-tries": strconv.FormatBool(had)})})
	return had, err
}

// TPMLockoutReset audits an administrator's reset of the TPM's lockout,
// with the state before it and whether it worked.
func (s Admin) TPMLockoutReset(before admin.TPMLockout, resetErr error, ch admin.Change) error {
	d := map[string]string{"counter-before": strconv.FormatUint(uint64(before.Counter), 10),
		"in-lockout-before": strconv.FormatBool(before.InLockout), "outcome": "ok"}
	if resetErr != nil {
		d["outcome"], d["error"] = "failed", resetErr.Error()
	}
	_, err := s.db.Append(store.AuditEvent{Type: kiosk.EventTPMLockoutReset, Actor: ch.Actor, Terminal: s.terminal,
		Detail: mergeDetail(ch.Detail, d)})
	return err
}
