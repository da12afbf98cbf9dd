package store_test

import (
	"testing"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func TestOnAuditHandsOverCommittedEntriesOnceInOrder(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	ch := store.Change{Actor: "root (uid 0, pid 1)", Terminal: "t1"}
	if err := db.PutUser(storetest.User("before"), ch); err != nil {
		t.Fatal(err)
	}
	head, _, _ := db.AuditHead()
	var got []uint64
	if err := db.OnAudit(func(e store.AuditEvent) { got = append(got, e.Seq) }); err != nil {
		t.Fatal(err)
	}
	if err := db.PutUser(storetest.User("alice"), ch); err != nil {
		t.Fatal(err)
	}
	// A change the store refuses writes nothing and hands nothing over.
	if err := db.PutUser(store.User{ID: []byte("other"), Name: "alice", State: store.UserActive}, ch); kiosk.KindOf(err) != kiosk.KindConflict {
		t.Fatalf("duplicate name: %v", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := db.Append(store.AuditEvent{Type: kiosk.EventIdleWarning, Terminal: "t1"}); err != nil {
			t.Fatal(err)
		}
	}
	want := []uint64{head + 1, head + 2, head + 3, head + 4}
	if len(got) != len(want) {
		t.Fatalf("handed over %v, want %v (entries before OnAudit are not replayed)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("handed over %v, want %v", got, want)
		}
	}
}
