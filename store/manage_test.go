package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
)

func openTemp(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "p.db"), store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestRemoveUserTakesCredentialsAndUnusedCodes(t *testing.T) {
	db := openTemp(t)
	ch := store.Change{Actor: "admin", Terminal: "t1"}
	for _, id := range []string{"ann", "ben"} {
		if err := db.PutUser(store.User{ID: []byte(id), Name: id, State: store.UserActive}, ch); err != nil {
			t.Fatal(err)
		}
		if err := db.AddCredential(store.Credential{ID: []byte("cred-" + id), UserID: []byte(id), Kind: store.KindRoaming,
			PublicKey: []byte{0xa0}, Created: time.Now()}, ch); err != nil {
			t.Fatal(err)
		}
	}
	used, _, err := db.IssueEnrollmentCode([]byte("ann"), store.PurposeEnroll, time.Hour, ch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedeemEnrollmentCode(used, "t1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	unused, _, _ := db.IssueEnrollmentCode([]byte("ann"), store.PurposeEnroll, time.Hour, ch)
	if err := db.RemoveUser([]byte("ann"), ch); err != nil {
		t.Fatal(err)
	}
	if _, err := db.User([]byte("ann")); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("user still there: %v", err)
	}
	if _, err := db.CredentialByID([]byte("cred-ann")); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("credential still there: %v", err)
	}
	if cs, _ := db.CredentialsOf([]byte("ann")); len(cs) != 0 {
		t.Fatalf("index still lists %d", len(cs))
	}
	if _, err := db.RedeemEnrollmentCode(unused, "t1", time.Time{}); err == nil {
		t.Fatal("a removed person's code still works")
	}
	if _, err := db.CredentialByID([]byte("cred-ben")); err != nil {
		t.Fatalf("another person's credential went too: %v", err)
	}
	if err := db.RemoveUser([]byte("ann"), ch); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := db.VerifyChain(); err != nil {
		t.Fatal(err)
	}
	evs, _ := db.Events(0, 100)
	if last := evs[len(evs)-2]; last.Type != kiosk.EventUserRemoved || last.Detail["credentials"] != "1" || last.Detail["codes"] != "1" {
		t.Fatalf("audit %+v", last)
	}
}

func TestCancelEnrollmentCode(t *testing.T) {
	db := openTemp(t)
	ch := store.Change{Actor: "admin"}
	db.PutUser(store.User{ID: []byte("ann"), Name: "ann", State: store.UserActive}, ch)
	code, rec, err := db.IssueEnrollmentCode([]byte("ann"), store.PurposeEnroll, time.Hour, ch)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := db.EnrollmentCodes()
	if err != nil || len(codes) != 1 {
		t.Fatalf("codes %v %v", codes, err)
	}
	if err := db.CancelEnrollmentCode(rec.ID, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedeemEnrollmentCode(code, "t", time.Time{}); err == nil {
		t.Fatal("a cancelled code redeemed")
	}
	if err := db.CancelEnrollmentCode(rec.ID, ch); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("second cancel: %v", err)
	}
	code2, rec2, _ := db.IssueEnrollmentCode([]byte("ann"), store.PurposeEnroll, time.Hour, ch)
	db.RedeemEnrollmentCode(code2, "t", time.Time{})
	if err := db.CancelEnrollmentCode(rec2.ID, ch); !errors.Is(err, kiosk.ErrConflict) {
		t.Fatalf("cancel of a used code: %v", err)
	}
}
