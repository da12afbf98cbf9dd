package admin

import (
	"io"
	"time"

	"passkiosk/kiosk"
)

// unavailable is the Store of an appliance whose database did not open:
// it is out of service, and status must still say why, but nothing else
// can be done until IT repairs or replaces the file.
type unavailable struct{}

func (unavailable) err() error {
	return kiosk.Errorf(kiosk.KindStoreCorrupt, "records", "the appliance's database is unavailable, so it is out of service: see passkioskctl status")
}

func (u unavailable) Users() ([]User, error)                   { return nil, u.err() }
func (u unavailable) PutUser(User, Change) error               { return u.err() }
func (u unavailable) RemoveUser(string, Change) error          { return u.err() }
func (u unavailable) Credentials(string) ([]Credential, error) { return nil, u.err() }
func (u unavailable) RemoveCredential(string, Change) error    { return u.err() }
func (u unavailable) IssueCode(string, string, time.Duration, Change) (string, Code, error) {
	return "", Code{}, u.err()
}
func (u unavailable) Codes() ([]Code, error)          { return nil, u.err() }
func (u unavailable) CancelCode(string, Change) error { return u.err() }
func (u unavailable) Policy() (StoredPolicy, error)   { return StoredPolicy{}, u.err() }
func (u unavailable) PutPolicy(uint32, []byte, uint64, Change) (uint64, error) {
	return 0, u.err()
}
func (u unavailable) Sessions(bool) ([]SessionRecord, error)     { return nil, u.err() }
func (u unavailable) AuditHead() (ChainHead, error)              { return ChainHead{}, u.err() }
func (u unavailable) Events(uint64, int) ([]AuditEntry, error)   { return nil, u.err() }
func (u unavailable) ExportAudit(io.Writer, uint64) (int, error) { return 0, u.err() }
func (u unavailable) VerifyAudit() (Chain, error)                { return Chain{}, u.err() }
func (u unavailable) EndRequested(string, bool, Change) error    { return u.err() }
