package fleetapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Role is what an administrator may do through the fleet service.
type Role string

const (
	// RoleAdmin reads and changes everything the admin API offers.
	RoleAdmin Role = "admin"
	// RoleAuditor reads (people, terminals, policy, revocations, the
	// audit trail, sessions) and changes nothing.
	RoleAuditor Role = "auditor"
)

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleAuditor:
		return r, nil
	}
	return "", fmt.Errorf("role %q: admin or auditor", s)
}

// AdminsPrefix is where administrators' roles live in the cluster: one
// key per certificate common name. It is written with the cluster's root
// credentials (`passkioskctl fleet admin add`), never through the admin
// API, so no administrator can grant themselves a role.
const AdminsPrefix = "/passkiosk/v1/admins/"

// AdminKey names the role record of the administrator whose client
// certificate has common name name.
func AdminKey(name string) string { return AdminsPrefix + name }

// Admin is an administrator's role record. Its value is JSON (the one
// record in the fleet's tree that passkioskctl writes itself, and it may
// not link the store's CBOR codecs).
type Admin struct {
	V       int       `json:"v"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Added   time.Time `json:"added"`
	AddedBy string    `json:"added_by"`
}

// adminVersion is the version of Admin records written by this build.
const adminVersion = 1

// EncodeAdmin is a value under AdminKey.
func EncodeAdmin(a Admin) ([]byte, error) {
	a.V = adminVersion
	if _, err := ParseRole(string(a.Role)); err != nil {
		return nil, err
	}
	if a.Name == "" {
		return nil, fmt.Errorf("an administrator needs a name (their certificate's common name)")
	}
	return json.Marshal(a)
}

// DecodeAdmin reads a value under AdminKey strictly: an unknown field,
// version or role is an error, so a record this build does not
// understand grants nothing.
func DecodeAdmin(b []byte) (Admin, error) {
	var a Admin
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Admin{}, fmt.Errorf("administrator record: %v", err)
	}
	if a.V != adminVersion {
		return Admin{}, fmt.Errorf("administrator record of version %d; this build reads %d", a.V, adminVersion)
	}
	if _, err := ParseRole(string(a.Role)); err != nil {
		return Admin{}, fmt.Errorf("administrator record: %v", err)
	}
	return a, nil
}
