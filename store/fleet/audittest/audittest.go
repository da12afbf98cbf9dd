// Package audittest is test support for the fleet's audit shipping and
// collection: etcd clients that come back quickly from a member that went
// away, and terminals (a store on disk) that write audit entries.
package audittest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// Client is an etcd client on every endpoint that reconnects to a member
// within 2 s of its return (gRPC's default backoff grows to two
// minutes). The caller closes it.
func Client(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 3 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// Terminal is a terminal's store on disk.
type Terminal struct {
	Name string
	Path string
	DB   *store.DB
	n    int
}

// Open opens (or creates) terminal name's store in dir.
func Open(t testing.TB, dir, name string) *Terminal {
	t.Helper()
	tm := &Terminal{Name: name, Path: filepath.Join(dir, name+".db")}
	tm.Reopen(t)
	return tm
}

// Reopen opens the store again after Close.
func (tm *Terminal) Reopen(t testing.TB) {
	t.Helper()
	db, err := store.Open(tm.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tm.DB = db
}

// Close closes the store.
func (tm *Terminal) Close(t testing.TB) {
	t.Helper()
	if err := tm.DB.Close(); err != nil {
		t.Fatal(err)
	}
}

// Person is the user Append's entries name, by index.
func Person(i int) (id []byte, name string) {
	return []byte(fmt.Sprintf("user-%03d", i)), fmt.Sprintf("person%03d", i)
}

// Append writes n entries: mostly sign-ins and session ends, every
// fifth a failed sign-in, each naming a person. It returns the last
// sequence number.
func (tm *Terminal) Append(t testing.TB, n int) uint64 {
	t.Helper()
	var seq uint64
	for range n {
		tm.n++
		id, name := Person(tm.n % 37)
		e := store.AuditEvent{Type: kiosk.EventSignIn, Actor: "self", Terminal: tm.Name, UserID: id, UserName: name,
			SessionID: uint64(tm.n)}
		switch tm.n % 5 {
		case 0:
			e.Type, e.Reason = kiosk.EventSignInFailed, kiosk.KindPINInvalid
		case 3:
			e.Type, e.Cause = kiosk.EventSessionEnded, kiosk.EndLogout
		}
		var err error
		if seq, err = tm.DB.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	return seq
}
