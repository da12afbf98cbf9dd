package admin_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
)

func TestConnectionLimits(t *testing.T) {
	a := newAppliance(t, func(o *admin.Options) { o.MaxConns = 2 })
	c := &admin.Client{Socket: a.sock}

	// Followers do not use up the slots other commands need.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opened := make(chan struct{}, 2)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Stream(ctx, admin.CmdAuditFollow, admin.AuditArgs{}, func(json.RawMessage) bool {
				opened <- struct{}{}
				return true
			})
			done <- err
		}()
	}
	for range 2 {
		select {
		case <-opened:
		case <-time.After(10 * time.Second):
			t.Fatal("follow streams did not open")
		}
	}
	a.ok("status")
	r := a.ctl("audit", "follow", "--for", "5s")
	if r.code != admin.ExitFailed || !strings.Contains(r.err, "2 clients are following the audit log already") {
		t.Fatalf("third follower: %s", r)
	}
	cancel()
	for range 2 {
		// A follow has no last part: it ends when its context does.
		if err := <-done; kiosk.KindOf(err) != kiosk.KindCancelled {
			t.Fatalf("follow ended with %v, want a cancellation", err)
		}
	}

	// Clients that connect and say nothing hold their slots until the
	// read deadline; meanwhile others are told the appliance is busy.
	var held []net.Conn
	for range 2 {
		held = append(held, holdSlot(t, a.sock))
	}
	resp := waitBusy(t, a.sock)
	if !strings.Contains(resp, "busy with other admin requests") {
		t.Fatalf("over the limit: %s", resp)
	}
	for _, c := range held {
		c.Close()
	}
	a.ok("status")
}

// holdSlot connects and says nothing, once the server has taken one of
// its slots for the connection: a connection it refused is answered at
// once and closed, so one that stays silent for a moment holds a slot.
func holdSlot(t *testing.T, sock string) net.Conn {
	t.Helper()
	for guard := time.Now().Add(10 * time.Second); time.Now().Before(guard); {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var b [1]byte
		_, err = conn.Read(b[:])
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			conn.SetReadDeadline(time.Time{})
			return conn
		}
		conn.Close() // refused: busy for a moment, try again
	}
	t.Fatal("the server never kept an idle connection")
	return nil
}

// waitBusy connects until the server answers that it is busy (the held
// connections may take a moment to be accepted).
func waitBusy(t *testing.T, sock string) string {
	t.Helper()
	guard := time.Now().Add(10 * time.Second)
	for {
		r := raw(t, sock, []byte(`{"command":"status"}`+"\n"))
		if r.Error != nil && strings.Contains(r.Error.Message, "busy") {
			return r.Error.Message
		}
		if time.Now().After(guard) {
			t.Fatalf("never refused as busy; last %+v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
