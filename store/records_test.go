package store_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/storetest"
)

func mustKind(t *testing.T, err error, want kiosk.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want kind %s", want)
	}
	if got := kiosk.KindOf(err); got != want {
		t.Fatalf("error %q has kind %s, want %s", err, got, want)
	}
}

func TestUsersRoundTripAndKeepCreated(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	u := storetest.User("alice")
	u.Groups = []string{"ward-3", "nurses"}
	if err := db.PutUser(u, store.Change{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	created := clock.Now()
	later := clock.Advance(time.Hour)
	u.State = store.UserDisabled
	if err := db.PutUser(u, store.Change{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	got, err := db.User([]byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.UserDisabled || !got.Created.Equal(created) || !got.Updated.Equal(later) {
		t.Errorf("user = %+v, want disabled, created %s, updated %s", got, created, later)
	}
	if len(got.Groups) != 2 || got.Groups[1] != "nurses" {
		t.Errorf("groups = %q", got.Groups)
	}
	_, err = db.User([]byte("bob"))
	mustKind(t, err, kiosk.KindNotFound)

	evs, err := db.Events(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []kiosk.Event
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if n := len(types); n < 2 || types[n-2] != kiosk.EventUserCreated || types[n-1] != kiosk.EventUserChanged {
		t.Errorf("audit types = %v, want … user-created user-changed", types)
	}
}

func TestPutUserRefusesBadInput(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	for name, u := range map[string]store.User{
		"empty id":   {State: store.UserActive},
		"long id":    {ID: make([]byte, 65), State: store.UserActive},
		"bad state":  {ID: []byte("x"), State: 9},
		"zero state": {ID: []byte("x")},
	} {
		t.Run(name, func(t *testing.T) {
			mustKind(t, db.PutUser(u, store.Change{}), kiosk.KindMalformed)
		})
	}
}

func TestUserNamesAreUnique(t *testing.T) {
	named := func(id, name string) store.User {
		return store.User{ID: []byte(id), Name: name, State: store.UserActive}
	}
	cases := []struct {
		name string
		put  store.User
		want kiosk.Kind // KindUnknown: stored
	}{
		{"same name", named("u9", "alice"), kiosk.KindConflict},
		{"other case and space", named("u9", " ALICE "), kiosk.KindConflict},
		{"rename onto a taken name", named("u2", "alice"), kiosk.KindConflict},
		{"new name", named("u9", "carol"), kiosk.KindUnknown},
		{"rename to a free name", named("u2", "robert"), kiosk.KindUnknown},
		{"keep own name, other case", named("u1", "Alice"), kiosk.KindUnknown},
		{"no name", named("u9", ""), kiosk.KindUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := storetest.Open(t, nil)
			for _, u := range []store.User{named("u1", "alice"), named("u2", "bob"), named("u3", "")} {
				if err := db.PutUser(u, store.Change{Actor: "admin"}); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := db.VerifyChain()
			err := db.PutUser(tc.put, store.Change{Actor: "admin"})
			after, _ := db.VerifyChain()
			if tc.want == kiosk.KindUnknown {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			mustKind(t, err, tc.want)
			if !strings.Contains(err.Error(), `user "alice" already exists`) {
				t.Errorf("error %q does not say which name is taken", err)
			}
			// Refused: nothing stored, nothing audited.
			if u, err := db.User(tc.put.ID); err == nil && u.Name == tc.put.Name {
				t.Errorf("refused user stored: %+v", u)
			}
			if after.Head != before.Head {
				t.Errorf("a refused put was audited: head %d → %d", before.Head, after.Head)
			}
		})
	}
}

func TestConcurrentPutsOfOneNameStoreOne(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	for round := range 20 {
		name := "person-" + strconv.Itoa(round)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := store.User{ID: []byte(name + "/" + strconv.Itoa(i)), Name: name, State: store.UserActive}
				errs[i] = db.PutUser(u, store.Change{Actor: "admin"})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch kiosk.KindOf(err) {
			case kiosk.KindUnknown:
				won++
			case kiosk.KindConflict:
			default:
				t.Fatalf("put: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d concurrent puts of %s succeeded", won, len(errs), name)
		}
	}
	users, err := db.Users()
	if err != nil || len(users) != 20 {
		t.Fatalf("%d users, %v", len(users), err)
	}
}

func addUserAndKey(t *testing.T, db *store.DB, user, cred string) {
	t.Helper()
	if _, err := db.User([]byte(user)); err != nil {
		if err := db.PutUser(storetest.User(user), store.Change{Actor: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddCredential(storetest.Roaming(cred, user), store.Change{Actor: "self"}); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsAreIndexedByUser(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	addUserAndKey(t, db, "alice", "k2")
	addUserAndKey(t, db, "alice", "k1")
	addUserAndKey(t, db, "bob", "k3")
	platform := store.Credential{
		ID: []byte("tpm1"), UserID: []byte("bob"), Kind: store.KindPlatform,
		PublicKey: []byte{1}, TPM: &store.TPMKey{Public: []byte{2}, Private: []byte{3}},
		AAGUID: [16]byte{0xaa, 15: 0xbb}, BackupEligible: true,
	}
	if err := db.AddCredential(platform, store.Change{}); err != nil {
		t.Fatal(err)
	}
	cs, err := db.CredentialsOf([]byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || string(cs[0].ID) != "k1" || string(cs[1].ID) != "k2" {
		t.Fatalf("alice's credentials = %v", cs)
	}
	got, err := db.CredentialByID([]byte("tpm1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.TPM == nil || !bytes.Equal(got.TPM.Private, []byte{3}) || got.AAGUID != platform.AAGUID || !got.BackupEligible {
		t.Errorf("platform credential = %+v", got)
	}
	if err := db.RemoveCredential([]byte("k1"), store.Change{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	cs, _ = db.CredentialsOf([]byte("alice"))
	if len(cs) != 1 || string(cs[0].ID) != "k2" {
		t.Errorf("after removal: %v", cs)
	}
	_, err = db.CredentialByID([]byte("k1"))
	mustKind(t, err, kiosk.KindNotFound)
}

func TestAddCredentialRefusals(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	addUserAndKey(t, db, "alice", "k1")
	mustKind(t, db.AddCredential(storetest.Roaming("k1", "alice"), store.Change{}), kiosk.KindConflict)
	mustKind(t, db.AddCredential(storetest.Roaming("k9", "nobody"), store.Change{}), kiosk.KindNotFound)
	noBlobs := storetest.Roaming("k8", "alice")
	noBlobs.Kind = store.KindPlatform
	mustKind(t, db.AddCredential(noBlobs, store.Change{}), kiosk.KindMalformed)
	noKey := storetest.Roaming("k7", "alice")
	noKey.PublicKey = nil
	mustKind(t, db.AddCredential(noKey, store.Change{}), kiosk.KindMalformed)
}

func TestRecordSignInUpdatesCounterAndAudits(t *testing.T) {
	db, clock := storetest.Open(t, nil)
	addUserAndKey(t, db, "alice", "k1")
	at := clock.Advance(time.Minute)
	c, seq, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("k1"), Counter: 5, Terminal: "ward3-a", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if c.Counter != 5 || !c.LastUsed.Equal(at) {
		t.Errorf("credential after sign-in = %+v", c)
	}
	evs, _ := db.Events(seq, 1)
	if len(evs) != 1 || evs[0].Type != kiosk.EventSignIn || string(evs[0].UserID) != "alice" || evs[0].Terminal != "ward3-a" {
		t.Errorf("audit entry %d = %+v", seq, evs)
	}
	stored, _ := db.CredentialByID([]byte("k1"))
	if stored.Counter != 5 {
		t.Errorf("stored counter %d", stored.Counter)
	}
}

func TestRecordSignInRefusesCounterRegression(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	addUserAndKey(t, db, "alice", "k1")
	if _, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("k1"), Counter: 10}); err != nil {
		t.Fatal(err)
	}
	head, _ := db.VerifyChain()
	for _, n := range []uint32{9, 10, 0} {
		_, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("k1"), Counter: n})
		if !errors.Is(err, kiosk.ErrCounterRegression) {
			t.Errorf("counter %d after 10: err = %v, want counter regression", n, err)
		}
	}
	c, _ := db.CredentialByID([]byte("k1"))
	after, _ := db.VerifyChain()
	if c.Counter != 10 || after.Head != head.Head {
		t.Errorf("refused sign-ins wrote: counter %d, head %d→%d", c.Counter, head.Head, after.Head)
	}
	// An authenticator without a counter always reports 0 (WebAuthn
	// §6.1.1): that is not a regression while the stored value is 0 too.
	addUserAndKey(t, db, "bob", "k2")
	for i := 0; i < 2; i++ {
		if _, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("k2")}); err != nil {
			t.Fatalf("zero counter sign-in %d: %v", i, err)
		}
	}
	_, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("nope"), Counter: 1})
	mustKind(t, err, kiosk.KindNotFound)
}

func TestPolicyVersionsAndConflicts(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	_, err := db.CurrentPolicy()
	mustKind(t, err, kiosk.KindNotFound)
	v1, err := db.PutPolicy(1, []byte("uv=required"), 0, store.Change{Actor: "admin"})
	if err != nil || v1 != 1 {
		t.Fatalf("first policy: v%d, %v", v1, err)
	}
	v2, err := db.PutPolicy(1, []byte("uv=preferred"), 1, store.Change{Actor: "admin", Detail: map[string]string{"comment": "night shift"}})
	if err != nil || v2 != 2 {
		t.Fatalf("second policy: v%d, %v", v2, err)
	}
	_, err = db.PutPolicy(1, []byte("stale"), 1, store.Change{Actor: "other"})
	mustKind(t, err, kiosk.KindConflict)
	cur, err := db.CurrentPolicy()
	if err != nil || cur.Version != 2 || string(cur.Data) != "uv=preferred" || cur.Comment != "night shift" {
		t.Errorf("current = %+v, %v", cur, err)
	}
	old, err := db.PolicyVersion(1)
	if err != nil || string(old.Data) != "uv=required" {
		t.Errorf("version 1 = %+v, %v", old, err)
	}
}

// TestRecordsOutliveTheirTransaction reads records and then closes the
// store, which unmaps the file: a record still pointing into the mapping
// would fault here.
func TestRecordsOutliveTheirTransaction(t *testing.T) {
	path := t.TempDir() + "/p.db"
	db := openAt(t, path, storetest.NewClock(storetest.Epoch))
	addUserAndKey(t, db, "alice", "k1")
	c, err := db.CredentialByID([]byte("k1"))
	if err != nil {
		t.Fatal(err)
	}
	users, _ := db.Users()
	evs, _ := db.Events(0, 100)
	db.Close()
	want := storetest.Roaming("k1", "alice")
	if !bytes.Equal(c.PublicKey, want.PublicKey) || string(c.UserID) != "alice" || string(users[0].ID) != "alice" || len(evs[len(evs)-1].Hash) != 32 {
		t.Errorf("records changed after close: %+v %+v", c, users)
	}
}

func TestConcurrentSignInsNeverLowerTheCounter(t *testing.T) {
	db, _ := storetest.Open(t, nil)
	addUserAndKey(t, db, "alice", "k1")
	// Eight writers each present counters from a shuffled range, as
	// sign-ins that read the counter before one another commit would.
	const writers, per = 8, 25
	var wg sync.WaitGroup
	accepted := make(chan uint32, writers*per)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				n := uint32(i*writers + (w*7+i*3)%writers + 1)
				_, _, err := db.RecordSignIn(store.SignIn{CredentialID: []byte("k1"), Counter: n})
				switch {
				case err == nil:
					accepted <- n
				case !errors.Is(err, kiosk.ErrCounterRegression):
					t.Errorf("counter %d: %v", n, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(accepted)
	var top uint32
	for n := range accepted {
		top = max(top, n)
	}
	c, _ := db.CredentialByID([]byte("k1"))
	if c.Counter != top {
		t.Errorf("stored counter %d, highest accepted %d", c.Counter, top)
	}
	// In commit order, the counters the audit log records only rise.
	evs, _ := db.Events(0, 1000)
	last := -1
	for _, e := range evs {
		if e.Type != kiosk.EventSignIn {
			continue
		}
		n, _ := strconv.Atoi(e.Detail["counter"])
		if n <= last {
			t.Fatalf("audit entry %d: counter %d after %d", e.Seq, n, last)
		}
		last = n
	}
}
