package storeport

import (
	"passkiosk/kiosk/admin"
	"passkiosk/store"
)

// AdminUser and AdminCredential are the admin API's forms of the store's
// records, shared with the fleet service's admin API.
func AdminUser(u store.User) admin.User                   { return adminUser(u) }
func AdminCredential(c store.Credential) admin.Credential { return adminCred(c) }

// ParsePurpose reads an enrollment code's purpose as the admin API names
// it (enroll, recovery).
func ParsePurpose(s string) (store.EnrollPurpose, bool) {
	p, ok := purposes[s]
	return p, ok && p != store.PurposeBootstrap
}
