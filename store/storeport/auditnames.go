package storeport

import (
	"passkiosk/store"
)

// nameOld fills in the names of entries written before the store kept
// them (store.AuditEvent.UserName and CredentialLabel), from the records
// as they are now. A person or credential removed since stays unnamed.
func nameOld(db *store.DB, evs []store.AuditEvent) {
	var (
		users  map[string]string
		labels = map[string]string{}
	)
	for i := range evs {
		e := &evs[i]
		if e.UserName == "" && len(e.UserID) > 0 {
			if users == nil {
				users = map[string]string{}
				us, _ := db.Users()
				for _, u := range us {
					users[string(u.ID)] = u.Name
				}
			}
			e.UserName = users[string(e.UserID)]
		}
		if e.CredentialLabel == "" && len(e.CredentialID) > 0 {
			id := string(e.CredentialID)
			l, seen := labels[id]
			if !seen {
				if c, err := db.CredentialByID(e.CredentialID); err == nil {
					l = store.CredentialLabel(*c)
				}
				labels[id] = l
			}
			e.CredentialLabel = l
		}
	}
}
