package storeport

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Records is the engine's kiosk.Store over the database. A kiosk.UserID
// is the store's user ID bytes as a string.
type Records struct {
	db       *store.DB
	terminal string

	// recovering is the person whose recovery code was just redeemed:
	// the credential they register next replaces all of theirs.
	mu         sync.Mutex
	recovering kiosk.UserID
}

var _ kiosk.Store = (*Records)(nil)

// NewRecords serves the engine from db (nil when it did not open).
func NewRecords(db *store.DB, terminal string) *Records { return &Records{db: db, terminal: terminal} }

var errNoDB = kiosk.Errorf(kiosk.KindStoreCorrupt, "store", "the database is not open")

func (r *Records) ok() error {
	if r.db == nil {
		return errNoDB
	}
	return nil
}

func kioskUser(u store.User) kiosk.User {
	return kiosk.User{ID: kiosk.UserID(u.ID), Name: u.Name, DisplayName: u.DisplayName,
		Groups: u.Groups, Disabled: u.State != store.UserActive, Created: u.Created}
}

func (r *Records) Users() ([]kiosk.User, error) {
	if err := r.ok(); err != nil {
		return nil, err
	}
	us, err := r.db.Users()
	out := make([]kiosk.User, len(us))
	for i, u := range us {
		out[i] = kioskUser(u)
	}
	return out, err
}

func (r *Records) User(id kiosk.UserID) (kiosk.User, error) {
	if err := r.ok(); err != nil {
		return kiosk.User{}, err
	}
	u, err := r.db.User([]byte(id))
	if err != nil {
		return kiosk.User{}, err
	}
	return kioskUser(*u), nil
}

// UserByName finds a person by sign-in name, ignoring case and
// surrounding space as people type them.
func (r *Records) UserByName(name string) (kiosk.User, error) {
	us, err := r.Users()
	if err != nil {
		return kiosk.User{}, err
	}
	name = strings.TrimSpace(name)
	for _, u := range us {
		if strings.EqualFold(u.Name, name) {
			return u, nil
		}
	}
	return kiosk.User{}, kiosk.Errorf(kiosk.KindNotFound, "store", "no user named %q", name)
}

func kioskCredential(c store.Credential) kiosk.Credential {
	kc := kiosk.Credential{ID: c.ID, User: kiosk.UserID(c.UserID), PublicKey: c.PublicKey, Counter: c.Counter,
		AAGUID: c.AAGUID, BackupEligible: c.BackupEligible, Label: c.Label, Format: c.Format,
		Created: c.Created, LastUsed: c.LastUsed, Attachment: kiosk.AttachRoaming}
	if c.Kind == store.KindPlatform {
		kc.Attachment = kiosk.AttachPlatform
	}
	if c.TPM != nil {
		kc.TPMPublic, kc.TPMPrivate = c.TPM.Public, c.TPM.Private
	}
	return kc
}

func (r *Records) Credential(id []byte) (kiosk.Credential, error) {
	if err := r.ok(); err != nil {
		return kiosk.Credential{}, err
	}
	c, err := r.db.CredentialByID(id)
	if err != nil {
		return kiosk.Credential{}, err
	}
	return kioskCredential(*c), nil
}

func (r *Records) Credentials(u kiosk.UserID) ([]kiosk.Credential, error) {
	if err := r.ok(); err != nil {
		return nil, err
	}
	cs, err := r.db.CredentialsOf([]byte(u))
	out := make([]kiosk.Credential, len(cs))
	for i, c := range cs {
		out[i] = kioskCredential(c)
	}
	return out, err
}

// AddCredential stores a new credential; the store audits the enrollment
// in the same transaction.
func (r *Records) AddCredential(c kiosk.Credential) error {
	if err := r.ok(); err != nil {
		return err
	}
	sc := store.Credential{ID: c.ID, UserID: []byte(c.User), PublicKey: c.PublicKey, Counter: c.Counter,
		AAGUID: c.AAGUID, BackupEligible: c.BackupEligible, Label: c.Label, Format: c.Format,
		Created: c.Created, LastUsed: c.LastUsed, Kind: store.KindRoaming, Transports: []string{"usb"}}
	if c.Attachment == kiosk.AttachPlatform {
		sc.Kind, sc.Transports = store.KindPlatform, []string{"internal"}
		sc.TPM = &store.TPMKey{Public: c.TPMPublic, Private: c.TPMPrivate}
	}
	ch := store.Change{At: c.Created, Actor: "self", Terminal: r.terminal,
		Detail: map[string]string{"method": c.Attachment.String(), "format": c.Format}}
	// The engine redeems a code, then stores the credential it was for:
	// after a recovery code, that credential replaces the person's others.
	r.mu.Lock()
	recovery := r.recovering != "" && r.recovering == c.User
	r.recovering = ""
	r.mu.Unlock()
	if recovery {
		_, err := r.db.AddRecoveryCredential(sc, ch)
		return err
	}
	return r.db.AddCredential(sc, ch)
}

// RecordSignIn updates the counter and appends the sign-in to the audit
// log in one transaction.
func (r *Records) RecordSignIn(id []byte, counter uint32, at time.Time) error {
	if err := r.ok(); err != nil {
		return err
	}
	_, _, err := r.db.RecordSignIn(store.SignIn{CredentialID: id, Counter: counter, At: at, Terminal: r.terminal})
	return err
}

func (r *Records) CheckEnrollmentCode(code string, now time.Time) (kiosk.UserID, error) {
	if err := r.ok(); err != nil {
		return "", err
	}
	c, err := r.db.LookupEnrollmentCode(code, now)
	if err != nil {
		return "", notFound(err)
	}
	return kiosk.UserID(c.UserID), nil
}

func (r *Records) RedeemEnrollmentCode(code string, now time.Time) (kiosk.UserID, error) {
	if err := r.ok(); err != nil {
		return "", err
	}
	c, err := r.db.RedeemEnrollmentCode(code, r.terminal, now)
	if err != nil {
		return "", notFound(err)
	}
	r.mu.Lock()
	r.recovering = ""
	if c.Purpose == store.PurposeRecovery {
		r.recovering = kiosk.UserID(c.UserID)
	}
	r.mu.Unlock()
	return kiosk.UserID(c.UserID), nil
}

// notFound reports a wrong, used or expired code as the port promises.
func notFound(err error) error {
	if kiosk.KindOf(err) == kiosk.KindChallenge {
		return kiosk.E(kiosk.KindNotFound, "enrollment code", err)
	}
	return err
}

// writtenByStore are the engine's events the store already audited in
// the transaction that made the change: a sign-in and an enrollment with
// their credential, a session's start and end with the session journal.
// Writing the engine's own entry too would log each of them twice.
func writtenByStore(t kiosk.Event) bool {
	switch t {
	case kiosk.EventSignIn, kiosk.EventEnrolled, kiosk.EventSessionOpened, kiosk.EventSessionEnded:
		return true
	}
	return false
}

func (r *Records) Audit(e kiosk.AuditEvent) error {
	if err := r.ok(); err != nil {
		return err
	}
	if writtenByStore(e.Type) {
		return nil
	}
	detail := map[string]string{"outcome": e.Outcome}
	for k, v := range e.Detail {
		detail[k] = v
	}
	ev := store.AuditEvent{Time: e.Time, Type: e.Type, Actor: "engine", Terminal: r.terminal,
		UserID: []byte(e.User), CredentialID: e.Credential, Reason: e.Kind, Detail: detail}
	if id, err := strconv.ParseUint(e.Detail["session"], 10, 64); err == nil {
		ev.SessionID = id
	}
	_, err := r.db.Append(ev)
	return err
}

// recentLimit bounds how many audit entries RecentFailures reads: far more
// than one lockout window of failures at any plausible rate.
const recentLimit = 10000

// RecentFailures implements kiosk.FailureHistory from the audit log, which
// already holds every counted failure with its subject and every
// successful sign-in.
func (r *Records) RecentFailures(since time.Time) (map[string][]time.Time, error) {
	if err := r.ok(); err != nil {
		return nil, err
	}
	events, err := r.db.RecentEvents(since, recentLimit)
	if err != nil {
		return nil, err
	}
	seen := make([]kiosk.AuditEvent, 0, len(events))
	for _, e := range events {
		typ := e.Type
		if typ == kiosk.EventAppliance {
			typ = kiosk.LegacyEvent(e.Detail["event"])
		}
		seen = append(seen, kiosk.AuditEvent{Time: e.Time, Type: typ, User: kiosk.UserID(e.UserID), Detail: e.Detail})
	}
	return kiosk.FailuresIn(seen), nil
}

var _ kiosk.PINTries = (*Records)(nil)

// PlatformPINTries implements kiosk.PINTries from the store's pin-tries
// records, which survive a restart.
func (r *Records) PlatformPINTries(u kiosk.UserID) (int, time.Time, error) {
	if err := r.ok(); err != nil {
		return 0, time.Time{}, err
	}
	t, err := r.db.PINTriesOf([]byte(u))
	return t.Count, t.Last, err
}

func (r *Records) AddPlatformPINFailure(u kiosk.UserID, at time.Time) (int, error) {
	if err := r.ok(); err != nil {
		return 0, err
	}
	t, err := r.db.AddPINFailure([]byte(u), at)
	return t.Count, err
}

func (r *Records) ClearPlatformPINTries(u kiosk.UserID) (bool, error) {
	if err := r.ok(); err != nil {
		return false, err
	}
	return r.db.ClearPINTries([]byte(u))
}
