package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func platformCred(id, user string) store.Credential {
	return store.Credential{ID: []byte(id), UserID: []byte(user), Kind: store.KindPlatform,
		PublicKey: []byte{0xa1, 0x01, 0x02}, TPM: &store.TPMKey{Public: []byte{1}, Private: []byte{2}}}
}

func TestMirrorAppliesBatchesWithTheirRevision(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	// A person of this terminal only, and their platform passkey: the
	// mirror must never remove either.
	if err := db.PutUser(storetest.User("local"), store.Change{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	res, err := db.ApplyMirror(store.MirrorBatch{Revision: 10, Full: true,
		Users:       []store.User{storetest.User("ann"), storetest.User("bob")},
		Credentials: []store.Credential{storetest.Roaming("k-ann", "ann"), storetest.Roaming("k-bob", "bob"), storetest.Roaming("k-nobody", "nobody")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != 2 || res.Creds != 2 || res.Skipped != 1 {
		t.Fatalf("applied %+v, want 2 users, 2 credentials, 1 skipped", res)
	}
	if err := db.AddCredential(platformCred("tpm-ann", "ann"), store.Change{Actor: "self"}); err != nil {
		t.Fatal(err)
	}
	// The terminal's sign-ins raise the counter; the directory's older
	// copy of the credential must not lower it.
	if _, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("k-ann"), Counter: 7}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	ann := storetest.User("ann")
	ann.State = store.UserDisabled
	relabelled := storetest.Roaming("k-ann", "ann")
	relabelled.Label = "blue key"
	res, err = db.ApplyMirror(store.MirrorBatch{Revision: 12, Users: []store.User{ann}, Credentials: []store.Credential{relabelled},
		Revoked: []store.Revocation{{CredentialID: []byte("k-bob"), By: "it", Reason: "lost"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stopped) != 1 || string(res.Stopped[0]) != "ann" || len(res.Revoked) != 1 || string(res.Revoked[0]) != "k-bob" {
		t.Fatalf("stopped %q revoked %q", res.Stopped, res.Revoked)
	}
	c, err := db.CredentialByID([]byte("k-ann"))
	if err != nil || c.Counter != 7 || c.Label != "blue key" {
		t.Fatalf("k-ann = %+v, %v; want counter 7 kept, label changed", c, err)
	}
	_, err = db.CredentialByID([]byte("k-bob"))
	mustKind(t, err, kiosk.KindNotFound)
	st, err := db.MirrorState()
	if err != nil || st.Revision != 12 || !st.Current.Equal(clock.Now()) {
		t.Fatalf("state %+v, %v", st, err)
	}
	// Going backwards is refused, and changes nothing; only a full load
	// (of a directory restored from a backup) may.
	_, err = db.ApplyMirror(store.MirrorBatch{Revision: 11})
	mustKind(t, err, kiosk.KindConflict)

	// A full reload without bob removes him; ann's platform passkey and
	// the local person stay.
	if _, err := db.ApplyMirror(store.MirrorBatch{Revision: 20, Full: true, Users: []store.User{ann},
		Credentials: []store.Credential{relabelled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.User([]byte("bob")); kiosk.KindOf(err) != kiosk.KindNotFound {
		t.Errorf("bob after a reload without him: %v", err)
	}
	for _, id := range []string{"local", "ann"} {
		if _, err := db.User([]byte(id)); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if _, err := db.CredentialByID([]byte("tpm-ann")); err != nil {
		t.Errorf("platform credential after reload: %v", err)
	}
	evs, _ := db.Events(0, 100)
	counts := map[kiosk.Event]int{}
	for _, e := range evs {
		counts[e.Type]++
	}
	if counts[kiosk.EventFleetReloaded] != 2 || counts[kiosk.EventFleetSynced] != 1 || counts[kiosk.EventFleetRevoked] != 2 || counts[kiosk.EventUserRemoved] != 1 {
		t.Errorf("audit entries %v", counts)
	}
	// The file reopens: the full check accepts the mirror's bucket.
	path := db.Path()
	db.Close()
	db2, err := store.Open(path, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if st, _ := db2.MirrorState(); st.Revision != 20 {
		t.Errorf("revision after reopen %d", st.Revision)
	}
}

func TestMirrorPolicyBecomesALocalVersionOnce(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	p := &store.Policy{Version: 4, Schema: 1, Data: []byte("a = 1"), ChangedBy: "it"}
	for rev := int64(1); rev <= 2; rev++ {
		res, err := db.ApplyMirror(store.MirrorBatch{Revision: rev, Policy: p})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]uint64{1: 1, 2: 0}[rev]; res.Policy != want {
			t.Errorf("revision %d: local policy version %d, want %d", rev, res.Policy, want)
		}
	}
	cur, err := db.CurrentPolicy()
	if err != nil || string(cur.Data) != "a = 1" || cur.Version != 1 {
		t.Fatalf("current %+v, %v", cur, err)
	}
}

// The terminal's own place from the directory is kept in the mirror: a
// change is reported and audited once, it survives a restart, a batch
// that does not name it leaves it, and a full load without it (or its
// deletion) removes it.
func TestMirrorKeepsTheTerminalsPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passkiosk.db")
	db, err := store.Open(path, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.MirrorPlace(); ok || err != nil {
		t.Fatalf("a new store has a place: %v %v", ok, err)
	}
	icu := store.Place{Site: "north", Ward: "icu", Labels: map[string]string{"floor": "3"}, UpdatedBy: "it-anna"}
	res, err := db.ApplyMirror(store.MirrorBatch{Revision: 5, Full: true, Place: &icu, Terminal: "t1"})
	if err != nil || !res.Place {
		t.Fatalf("full load with a place: %+v, %v", res, err)
	}
	if res, err = db.ApplyMirror(store.MirrorBatch{Revision: 6, Place: &icu}); err != nil || res.Place {
		t.Fatalf("the same place again is no change: %+v, %v", res, err)
	}
	if res, err = db.ApplyMirror(store.MirrorBatch{Revision: 7, Users: []store.User{storetest.User("ann")}}); err != nil || res.Place {
		t.Fatalf("a batch without the place changed it: %+v, %v", res, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening runs the store's check, which reads the place too.
	db, err = store.Open(path, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, ok, err := db.MirrorPlace()
	if err != nil || !ok || got.Ward != "icu" || got.Site != "north" || got.Labels["floor"] != "3" || got.UpdatedBy != "it-anna" {
		t.Fatalf("after a restart: %+v %v %v", got, ok, err)
	}
	entries, err := db.Events(1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	places := 0
	for _, e := range entries {
		if e.Type == kiosk.EventFleetSynced && e.Detail["what"] == "place" {
			places++
			if e.Detail["ward"] != "icu" || e.Detail["label.floor"] != "3" || e.Detail["by"] != "it-anna" || e.Terminal != "t1" {
				t.Errorf("place audited as %+v", e)
			}
		}
	}
	if places != 1 {
		t.Errorf("%d place entries, want 1", places)
	}

	ward7 := store.Place{Ward: "ward7"}
	if res, err = db.ApplyMirror(store.MirrorBatch{Revision: 8, Place: &ward7}); err != nil || !res.Place {
		t.Fatalf("moved to ward 7: %+v, %v", res, err)
	}
	if res, err = db.ApplyMirror(store.MirrorBatch{Revision: 9, PlaceRemoved: true}); err != nil || !res.Place {
		t.Fatalf("record deleted: %+v, %v", res, err)
	}
	if _, ok, _ := db.MirrorPlace(); ok {
		t.Fatal("a deleted place is still there")
	}
	if _, err = db.ApplyMirror(store.MirrorBatch{Revision: 10, Place: &ward7}); err != nil {
		t.Fatal(err)
	}
	if res, err = db.ApplyMirror(store.MirrorBatch{Revision: 11, Full: true}); err != nil || !res.Place {
		t.Fatalf("full load without the place: %+v, %v", res, err)
	}
	if _, ok, _ := db.MirrorPlace(); ok {
		t.Fatal("a full load without the place kept it")
	}
}
