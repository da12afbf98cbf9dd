package store_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func TestEnrollmentCodeIsSingleUse(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	addUserAndKey(t, db, "alice", "k1")
	code, rec, err := db.IssueEnrollmentCode([]byte("alice"), store.PurposeRecovery, time.Hour, store.Change{Actor: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 19 || strings.Count(code, "-") != 3 {
		t.Errorf("code %q is not four groups of four", code)
	}
	if bytes.Contains(rec.Hash, []byte(code)) {
		t.Error("stored record holds the code")
	}
	// People type codes in lower case, without dashes, with O for 0.
	typed := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(code, "-", " "), "0", "o"))
	clock.Advance(30 * time.Minute)
	// Looking a code up does not use it, and writes nothing.
	before, _ := db.VerifyChain()
	for i := 0; i < 2; i++ {
		if got, err := db.LookupEnrollmentCode(typed, time.Time{}); err != nil || string(got.UserID) != "alice" {
			t.Fatalf("lookup %d: %+v, %v", i, got, err)
		}
	}
	if after, _ := db.VerifyChain(); after.Head != before.Head {
		t.Errorf("lookup wrote audit entries %d→%d", before.Head, after.Head)
	}
	_, err = db.LookupEnrollmentCode("0000-0000-0000-0000", time.Time{})
	mustKind(t, err, kiosk.KindChallenge)
	got, err := db.RedeemEnrollmentCode(typed, "ward3-a", time.Time{})
	if err != nil {
		t.Fatalf("redeem %q: %v", typed, err)
	}
	if string(got.UserID) != "alice" || got.Purpose != store.PurposeRecovery || got.UsedTerminal != "ward3-a" {
		t.Errorf("redeemed = %+v", got)
	}
	_, err = db.RedeemEnrollmentCode(code, "ward3-a", time.Time{})
	mustKind(t, err, kiosk.KindChallenge)
	if !strings.Contains(err.Error(), "already used") {
		t.Errorf("second use: %v", err)
	}
	_, err = db.LookupEnrollmentCode(code, time.Time{})
	mustKind(t, err, kiosk.KindChallenge)
	evs, _ := db.Events(0, 100)
	last := evs[len(evs)-2:]
	if last[0].Type != kiosk.EventEnrollCodeRedeemed || last[1].Type != kiosk.EventEnrollCodeRefused {
		t.Errorf("audit ends %v %v", last[0].Type, last[1].Type)
	}
}

func TestEnrollmentCodeExpiresAtTTL(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	if err := db.PutUser(storetest.User("alice"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	code, rec, err := db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, 10*time.Minute, store.Change{Actor: "installer"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.RedeemEnrollmentCode(code, "t1", rec.ExpiresAt)
	mustKind(t, err, kiosk.KindChallenge)
	if !strings.Contains(err.Error(), "expired") {
		t.Errorf("at expiry: %v", err)
	}
	if _, err := db.RedeemEnrollmentCode(code, "t1", rec.ExpiresAt.Add(-time.Nanosecond)); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	clock.Advance(time.Hour)
	if n, err := db.PruneEnrollmentCodes(time.Time{}); err != nil || n != 1 {
		t.Errorf("pruned %d, %v", n, err)
	}
}

func TestEnrollmentCodeRefusals(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	for _, tc := range []struct {
		name    string
		user    []byte
		purpose store.EnrollPurpose
		ttl     time.Duration
		kind    kiosk.Kind
	}{
		{"no ttl", []byte("alice"), store.PurposeEnroll, 0, kiosk.KindMalformed},
		{"ttl too long", []byte("alice"), store.PurposeEnroll, store.MaxEnrollTTL + 1, kiosk.KindMalformed},
		{"unknown user", []byte("ghost"), store.PurposeEnroll, time.Hour, kiosk.KindNotFound},
		{"enroll without user", nil, store.PurposeEnroll, time.Hour, kiosk.KindMalformed},
		{"bootstrap with user", []byte("alice"), store.PurposeBootstrap, time.Hour, kiosk.KindMalformed},
		{"bootstrap (no longer issued)", nil, store.PurposeBootstrap, time.Hour, kiosk.KindMalformed},
		{"bad purpose", []byte("alice"), 9, time.Hour, kiosk.KindMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := db.IssueEnrollmentCode(tc.user, tc.purpose, tc.ttl, store.Change{})
			mustKind(t, err, tc.kind)
		})
	}
	if err := db.PutUser(storetest.User("alice"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.IssueEnrollmentCode([]byte("alice"), store.PurposeEnroll, time.Hour, store.Change{}); err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"", "0000-0000-0000-0000", "not a code", "ABCD-EFGH-JKMN-PQR"} {
		_, err := db.RedeemEnrollmentCode(wrong, "t1", time.Time{})
		mustKind(t, err, kiosk.KindChallenge)
	}
}
