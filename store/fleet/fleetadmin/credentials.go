package fleetadmin

import (
	"encoding/hex"
	"strings"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
	"passkiosk/kiosk/fleetapi"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/storeport"
)

// fleetCredential is a credential with where it lives: "" for a roaming
// one in the directory, the terminal for a platform one.
type fleetCredential struct {
	store.Credential
	terminal string
}

// allCredentials are the directory's roaming credentials and every
// terminal's platform credentials.
func (c *call) allCredentials() ([]fleetCredential, error) {
	roaming, err := c.s.o.Dir.Credentials(c.ctx)
	if err != nil {
		return nil, err
	}
	out := make([]fleetCredential, 0, len(roaming))
	for _, r := range roaming {
		out = append(out, fleetCredential{Credential: r})
	}
	plats, err := c.s.o.Dir.TermRecords(c.ctx, "platform/")
	if err != nil {
		return nil, err
	}
	for _, p := range plats {
		if p.Value == nil {
			continue
		}
		pc, err := fleet.DecodePlatform(p.Value)
		if err != nil {
			return nil, kiosk.Errorf(kiosk.KindMalformed, "list credentials", "%s: %v", p.Key, err)
		}
		out = append(out, fleetCredential{Credential: pc, terminal: p.Terminal})
	}
	return out, nil
}

// adminCreds converts credentials, naming their people.
func adminCreds(cs []fleetCredential, us []fleet.UserRecord) []admin.Credential {
	names := map[string]string{}
	for _, u := range us {
		names[string(u.ID)] = u.Name
	}
	out := make([]admin.Credential, len(cs))
	for i, fc := range cs {
		out[i] = storeport.AdminCredential(fc.Credential)
		out[i].UserName = names[string(fc.UserID)]
		if fc.terminal != "" {
			out[i].Label = strings.TrimSpace(out[i].Label + " (on " + fc.terminal + ")")
		}
	}
	return out
}

// credentialsOf lists one person's credentials, or everyone's for nil.
func (c *call) credentialsOf(user []byte) ([]admin.Credential, error) {
	all, err := c.allCredentials()
	if err != nil {
		return nil, err
	}
	us, err := c.s.o.Dir.Users(c.ctx)
	if err != nil {
		return nil, err
	}
	var mine []fleetCredential
	for _, fc := range all {
		if user == nil || string(fc.UserID) == string(user) {
			mine = append(mine, fc)
		}
	}
	return adminCreds(mine, us), nil
}

func (c *call) credentialsList(b []byte) (any, error) {
	var a admin.CredentialsListArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	var id []byte
	if a.User != "" {
		u, err := c.user(a.User)
		if err != nil {
			return nil, err
		}
		id = u.ID
	}
	return c.credentialsOf(id)
}

// findCredential is the one credential whose hex ID is ref or starts
// with it (at least 6 digits).
func findCredential(all []admin.Credential, ref string) (admin.Credential, error) {
	const op = "revoke credential"
	ref = strings.ToLower(ref)
	if len(ref) < 6 {
		return admin.Credential{}, kiosk.Errorf(kiosk.KindMalformed, op, "credential %q: give its ID or at least its first 6 hex digits", ref)
	}
	var found []admin.Credential
	for _, cr := range all {
		if strings.HasPrefix(cr.ID, ref) {
			found = append(found, cr)
		}
	}
	switch len(found) {
	case 0:
		return admin.Credential{}, kiosk.Errorf(kiosk.KindNotFound, op, "no credential %s in the fleet", ref)
	case 1:
		return found[0], nil
	}
	return admin.Credential{}, kiosk.Errorf(kiosk.KindConflict, op, "%d credentials start with %s: give more digits", len(found), ref)
}

func (c *call) credentialsRevoke(b []byte) (any, error) {
	var a fleetapi.RevokeArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	all, err := c.credentialsOf(nil)
	if err != nil {
		return nil, err
	}
	cr, err := findCredential(all, a.ID)
	if err != nil {
		return nil, err
	}
	id, _ := hex.DecodeString(cr.ID)
	user, _ := hex.DecodeString(cr.UserID)
	rev, err := c.s.o.Dir.Revoke(c.ctx, id, user, c.who, a.Reason)
	if err != nil {
		return nil, err
	}
	c.changed(fleet.RevokedKey(id), rev, "user", cr.UserName, "reason", a.Reason)
	return cr, nil
}

func (c *call) revocationsList([]byte) (any, error) {
	rs, err := c.s.o.Dir.Revocations(c.ctx)
	if err != nil {
		return nil, err
	}
	us, err := c.s.o.Dir.Users(c.ctx)
	if err != nil {
		return nil, err
	}
	out := make([]fleetapi.Revocation, len(rs))
	for i, r := range rs {
		out[i] = fleetapi.Revocation{CredentialID: hex.EncodeToString(r.CredentialID), UserID: hex.EncodeToString(r.UserID),
			At: r.At, By: r.By, Reason: r.Reason}
		if u, err := findUser(us, out[i].UserID); err == nil {
			out[i].UserName = u.Name
		}
	}
	return out, nil
}

// codes lists one person's enrollment codes, or everyone's for nil.
func (c *call) codes(user []byte) ([]admin.Code, error) {
	cs, err := c.s.o.Dir.Codes(c.ctx)
	if err != nil {
		return nil, err
	}
	us, err := c.s.o.Dir.Users(c.ctx)
	if err != nil {
		return nil, err
	}
	out := []admin.Code{}
	for _, k := range cs {
		if user != nil && string(k.UserID) != string(user) {
			continue
		}
		out = append(out, adminCode(k, us))
	}
	return out, nil
}

func adminCode(k fleet.Code, us []fleet.UserRecord) admin.Code {
	a := admin.Code{ID: hex.EncodeToString(k.ID), UserID: hex.EncodeToString(k.UserID), Purpose: k.Purpose.String(),
		IssuedAt: k.Issued, ExpiresAt: k.Expires, IssuedBy: k.IssuedBy, UsedAt: k.UsedAt}
	if u, err := findUser(us, a.UserID); err == nil {
		a.UserName = u.Name
	}
	return a
}

func (c *call) codesList([]byte) (any, error) { return c.codes(nil) }

func (c *call) codesIssue(b []byte) (any, error) {
	var a admin.CodeIssueArgs
	if err := decodeArgs(b, &a); err != nil {
		return nil, err
	}
	purpose, ok := storeport.ParsePurpose(cmpOr(a.Purpose, "enroll"))
	if !ok {
		return nil, kiosk.Errorf(kiosk.KindMalformed, "issue code", "purpose %q: enroll or recovery", a.Purpose)
	}
	u, err := c.user(a.User)
	if err != nil {
		return nil, err
	}
	ttl := a.TTL
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	code, err := c.s.o.Dir.IssueCode(c.ctx, u.ID, purpose, ttl, c.who)
	if err != nil {
		return nil, err
	}
	k, err := c.s.o.Dir.LookupCode(c.ctx, code)
	if err != nil {
		return nil, err
	}
	c.changed(fleet.CodeKey(k.Hash), 0, "user", u.Name, "purpose", purpose.String(), "expires", k.Expires)
	return admin.IssuedCode{Code: code, Info: adminCode(k, []fleet.UserRecord{u})}, nil
}
