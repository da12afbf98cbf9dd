package fleet_test

import (
	"context"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk"
	"passkiosk/store"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/fleettest"
)

func TestFiftyTerminalsRedeemingOneCodeOneWins(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	ctx := context.Background()
	if _, err := dir.PutUser(ctx, person(1)); err != nil {
		t.Fatal(err)
	}
	code, err := dir.IssueCode(ctx, person(1).ID, store.PurposeEnroll, time.Hour, "it")
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []int
		lost = map[kiosk.Kind]int{}
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every terminal registered a key of its own with the code.
			<-start
			_, _, err := dir.Redeem(ctx, fleet.Redemption{Code: code, Terminal: "t", Credential: key(1000+i, 1)})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins = append(wins, i)
			} else {
				lost[kiosk.KindOf(err)]++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(wins) != 1 || lost[kiosk.KindChallenge] != n-1 {
		t.Fatalf("%d won, refusals by kind %v; want exactly one win and %d used-code refusals", len(wins), lost, n-1)
	}
	// The winner's credential and the code's use are in the directory,
	// at the same revision.
	ck := fleet.CredentialKey(key(1000+wins[0], 1).ID)
	h, _ := fleet.HashCode(code)
	r1, _ := cl.Get(ctx, ck)
	r2, _ := cl.Get(ctx, fleet.CodeKey(h))
	if len(r1.Kvs) != 1 || len(r2.Kvs) != 1 || r1.Kvs[0].ModRevision != r2.Kvs[0].ModRevision {
		t.Fatalf("credential and used code not written in one revision: %v / %v", r1.Kvs, r2.Kvs)
	}
	got, err := fleet.DecodeCode(r2.Kvs[0].Value)
	if err != nil || got.UsedAt.IsZero() {
		t.Fatalf("code after redemption %+v, %v", got, err)
	}
	// No losers' credentials were written.
	rs, _ := cl.Get(ctx, "/passkiosk/v1/dir/creds/", clientv3WithPrefix()...)
	if len(rs.Kvs) != 1 {
		t.Errorf("%d credentials in the directory, want 1", len(rs.Kvs))
	}
}

func clientv3WithPrefix() []clientv3.OpOption { return []clientv3.OpOption{clientv3.WithPrefix()} }

// A recovery code replaces the person's keys everywhere: the new one is
// stored and every other is revoked in the same transaction.
func TestRecoveryCodeRevokesThePersonsOtherKeysFleetWide(t *testing.T) {
	c := fleettest.Start(t, fleettest.Options{})
	cl := c.Client()
	dir := &fleet.Directory{Client: cl}
	rev := seed(t, dir, 2) // people 0 and 1, keys 0-1 and 2-3
	term := startTerminal(t, cl, "t1", termOpts{})
	term.waitRevision(t, rev, 10*time.Second)
	ctx := context.Background()
	code, err := dir.IssueCode(ctx, person(1).ID, store.PurposeRecovery, time.Hour, "it")
	if err != nil {
		t.Fatal(err)
	}
	if _, rev, err = dir.Redeem(ctx, fleet.Redemption{Code: code, Terminal: "t1", Credential: key(9, 1)}); err != nil {
		t.Fatal(err)
	}
	term.waitRevision(t, rev, 10*time.Second)
	creds, err := term.db.CredentialsOf(person(1).ID)
	if err != nil || len(creds) != 1 || string(creds[0].ID) != string(key(9, 1).ID) {
		t.Fatalf("person 1's keys after recovery: %d, %v", len(creds), err)
	}
	if others, _ := term.db.CredentialsOf(person(0).ID); len(others) != 2 {
		t.Errorf("someone else's keys were touched: %d left", len(others))
	}
}
