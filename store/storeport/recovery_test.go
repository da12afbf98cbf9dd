package storeport_test

import (
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storeport"
	"passkiosk/store/storetest"
)

// enrollWithCode redeems code through the engine's port and stores the
// credential registered with it, as the engine does.
func enrollWithCode(t *testing.T, r *storeport.Records, code string, id string) {
	t.Helper()
	uid, err := r.RedeemEnrollmentCode(code, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c := storetest.Roaming(id, string(uid))
	err = r.AddCredential(kiosk.Credential{ID: c.ID, User: uid, Attachment: kiosk.AttachRoaming, PublicKey: c.PublicKey,
		Label: "Security key", Format: "none", Created: storetest.Epoch})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryCodeRevokesTheOldCredentials(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	r := storeport.NewRecords(db, "t1")
	admin := store.Change{Actor: "root (uid 0, pid 1)"}
	for _, name := range []string{"alice", "bob"} {
		if err := db.PutUser(storetest.User(name), admin); err != nil {
			t.Fatal(err)
		}
	}
	enroll, _, _ := db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, time.Hour, admin)
	enrollWithCode(t, r, enroll, "alice-old-1")
	if err := db.AddCredential(storetest.Roaming("alice-old-2", "alice"), admin); err != nil {
		t.Fatal(err)
	}
	if err := db.AddCredential(storetest.Roaming("bob-key", "bob"), admin); err != nil {
		t.Fatal(err)
	}
	before, _, _ := db.AuditHead()

	recovery, _, _ := db.IssueEnrollmentCode([]byte("alice"), store.PurposeRecovery, time.Hour, admin)
	enrollWithCode(t, r, recovery, "alice-new")

	creds, err := db.CredentialsOf([]byte("alice"))
	if err != nil || len(creds) != 1 || string(creds[0].ID) != "alice-new" {
		t.Fatalf("alice's credentials after recovery: %+v, %v", creds, err)
	}
	if bobs, _ := db.CredentialsOf([]byte("bob")); len(bobs) != 1 {
		t.Fatalf("bob's credentials after alice's recovery: %+v", bobs)
	}
	evs, _ := db.Events(before+1, 100)
	revoked := map[string]bool{}
	for _, e := range evs {
		if e.Type == kiosk.EventCredentialRemoved {
			if e.Detail["revoked"] != "recovery" || e.UserName != "alice" || e.CredentialLabel == "" {
				t.Errorf("revocation audited as %+v", e)
			}
			revoked[string(e.CredentialID)] = true
		}
	}
	if len(revoked) != 2 || !revoked["alice-old-1"] || !revoked["alice-old-2"] {
		t.Fatalf("revocations audited: %v in %+v", revoked, evs)
	}

	// An enroll code adds a credential and revokes nothing.
	more, _, _ := db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, time.Hour, admin)
	enrollWithCode(t, r, more, "alice-backup")
	if creds, _ := db.CredentialsOf([]byte("alice")); len(creds) != 2 {
		t.Fatalf("an enroll code after recovery: %+v", creds)
	}
}
