package storeport_test

import (
	"encoding/hex"
	"passkiosk/kiosk"
	"testing"

	"passkiosk/kiosk/admin"
	"passkiosk/store"
	"passkiosk/store/storeport"
	"passkiosk/store/storetest"
)

func TestAdminAuditHeadIsTheVerifiedHead(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	a := storeport.NewAdmin(db, "t1")
	for range 5 {
		if _, err := db.Append(store.AuditEvent{Type: kiosk.EventWipe}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := a.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := a.VerifyAudit()
	if err != nil || head.Seq != chain.Head || head.Hash != chain.Hash || len(head.Hash) != 64 {
		t.Fatalf("head %+v, verified chain %+v, %v", head, chain, err)
	}
}

func TestEndRequestIsAuditedAsARequest(t *testing.T) {
	uid := []byte{0xa1, 0x1c, 0xe0}
	for _, accepted := range []bool{true, false} {
		db, _ := storetest.Open(t, nil)
		a := storeport.NewAdmin(db, "t1")
		// Two sessions of the person here, one elsewhere: the request
		// names the newest here.
		var newest uint64
		for _, term := range []string{"t1", "t1", "t2"} {
			s, err := db.OpenSession(store.Session{UserID: uid, Terminal: term, Workspace: "/run/passkiosk/s/" + term})
			if err != nil {
				t.Fatal(err)
			}
			if term == "t1" {
				newest = s.ID
			}
		}
		ch := admin.Change{Actor: "root (uid 0, pid 7)", Detail: map[string]string{"admin-uid": "0"}}
		if err := a.EndRequested(hex.EncodeToString(uid), accepted, ch); err != nil {
			t.Fatal(err)
		}
		seq, _, _ := db.AuditHead()
		evs, _ := db.Events(seq, 1)
		e := evs[0]
		want := map[bool]string{true: "true", false: "false"}[accepted]
		if e.Type != kiosk.EventSessionEndRequested || e.Cause != kiosk.EndUnknown || e.Actor != ch.Actor || e.Terminal != "t1" ||
			e.SessionID != newest || hex.EncodeToString(e.UserID) != hex.EncodeToString(uid) || e.Detail["accepted"] != want || e.Detail["admin-uid"] != "0" {
			t.Fatalf("accepted=%v: request audited as %+v", accepted, e)
		}
		// Asking ends nothing: the session manager's journal does that.
		if open, _ := db.Sessions(true); len(open) != 3 {
			t.Fatalf("open sessions after the request: %+v", open)
		}
	}
}
