package softkey_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
	"passkiosk/kiosk"
)

func TestPingEchoesAcrossContinuationPackets(t *testing.T) {
	r := newRig(t, softkey.Config{})
	for _, n := range []int{0, 1, 57, 58, 116, 117, 1000, softkey.MaxMessage} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		got, err := r.c.Ping(ctx(t), data)
		if err != nil {
			t.Fatalf("ping %d bytes: %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("ping %d bytes came back as %d different bytes", n, len(got))
		}
	}
}

// sendRaw writes reports as they are, for framing errors a correct host
// never makes.
func sendRaw(t *testing.T, c *softkey.Conn, pkts ...[]byte) {
	t.Helper()
	for _, p := range pkts {
		if err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

func wantHIDError(t *testing.T, c *host.Client, code byte) {
	t.Helper()
	_, _, err := c.Recv(ctx(t))
	var he host.HIDError
	if !errors.As(err, &he) || byte(he) != code {
		t.Fatalf("got %v, want CTAPHID_ERROR 0x%02x", err, code)
	}
}

func TestFramingErrors(t *testing.T) {
	r := newRig(t, softkey.Config{})
	cid := r.c.CID

	t.Run("length beyond the maximum", func(t *testing.T) {
		p := host.Frame(cid, host.CmdPing, nil)[0]
		binary.BigEndian.PutUint16(p[5:], softkey.MaxMessage+1)
		sendRaw(t, r.conn, p)
		wantHIDError(t, r.c, 0x03)
	})
	t.Run("continuation out of sequence", func(t *testing.T) {
		pkts := host.Frame(cid, host.CmdPing, make([]byte, 200))
		pkts[2][4] = 5
		sendRaw(t, r.conn, pkts[0], pkts[1], pkts[2])
		wantHIDError(t, r.c, 0x04)
	})
	t.Run("stalled message times out", func(t *testing.T) {
		pkts := host.Frame(cid, host.CmdPing, make([]byte, 200))
		sendRaw(t, r.conn, pkts[0])
		wantHIDError(t, r.c, 0x05)
	})
	t.Run("unallocated channel", func(t *testing.T) {
		other := &host.Client{Dev: r.conn, CID: cid + 100}
		if err := other.Send(other.CID, host.CmdPing, []byte("x")); err != nil {
			t.Fatal(err)
		}
		wantHIDError(t, other, 0x0b)
	})
	t.Run("U2F messages are not offered", func(t *testing.T) {
		_, err := r.c.Transact(ctx(t), host.CmdMsg, []byte{0, 3, 0, 0})
		var he host.HIDError
		if !errors.As(err, &he) || he != 0x01 {
			t.Fatalf("CTAPHID_MSG: %v, want INVALID_CMD", err)
		}
	})
	t.Run("spurious continuation is ignored", func(t *testing.T) {
		p := make([]byte, 64)
		binary.BigEndian.PutUint32(p, cid)
		sendRaw(t, r.conn, p)
		if got, err := r.c.Ping(ctx(t), []byte("still here")); err != nil || string(got) != "still here" {
			t.Fatalf("ping after stray continuation: %q %v", got, err)
		}
	})
	t.Run("unknown CBOR command", func(t *testing.T) {
		_, err := r.c.CBOR(ctx(t), 0x42, nil)
		wantStatus(t, err, softkey.StatusInvalidCommand)
	})
	t.Run("bytes that are not CBOR", func(t *testing.T) {
		reply, err := r.c.Transact(ctx(t), host.CmdCBOR, []byte{0x01, 0xff, 0x00})
		if err != nil || softkey.Status(reply[0]) != softkey.StatusInvalidCBOR {
			t.Fatalf("reply %x %v, want INVALID_CBOR", reply, err)
		}
	})
}

func TestWinkIsCounted(t *testing.T) {
	r := newRig(t, softkey.Config{})
	if err := r.c.Wink(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if r.key.Winks() != 1 {
		t.Fatalf("winks %d", r.key.Winks())
	}
}

// TestBusyChannelAndCancel runs a command that waits for a touch on one
// channel: another channel is told the key is busy, a cancel from the other
// channel is ignored, and a cancel on the waiting channel ends the command
// with KEEPALIVE_CANCEL.
func TestBusyChannelAndCancel(t *testing.T) {
	r := newRig(t, softkey.Config{})
	r.key.SetTouch(softkey.TouchNever, 0)
	a := r.c
	b, err := host.Open(ctx(t), r.conn)
	if err != nil {
		t.Fatal(err)
	}
	// authenticatorSelection (0x0b) waits for a touch and nothing else.
	if err := a.Send(a.CID, host.CmdCBOR, []byte{0x0b}); err != nil {
		t.Fatal(err)
	}
	// Read the first keepalive so the command is surely running.
	p, err := r.conn.Read(ctx(t))
	if err != nil || p[4] != host.CmdKeepalive || p[7] != 2 {
		t.Fatalf("first report %x %v, want KEEPALIVE UPNEEDED", p, err)
	}
	if err := b.Send(b.CID, host.CmdPing, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := b.Cancel(); err != nil {
		t.Fatal(err)
	}
	// Skip a's keepalives while looking for b's error.
	for {
		p, err := r.conn.Read(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if binary.BigEndian.Uint32(p) == b.CID {
			if p[4] != host.CmdError || p[7] != 0x06 {
				t.Fatalf("other channel got %x, want CHANNEL_BUSY", p[:8])
			}
			break
		}
	}
	if err := a.Cancel(); err != nil {
		t.Fatal(err)
	}
	_, reply, err := a.Recv(ctx(t))
	if err != nil || softkey.Status(reply[0]) != softkey.StatusKeepaliveCancel {
		t.Fatalf("after cancel: %x %v", reply, err)
	}
	// The key is free again.
	if _, err := b.Ping(ctx(t), []byte("hi")); err != nil {
		t.Fatalf("ping after cancel: %v", err)
	}
}

// TestInitResynchronisesABusyChannel: CTAPHID_INIT on a channel aborts its
// transaction, and the old transaction's answer never arrives.
func TestInitResynchronisesABusyChannel(t *testing.T) {
	r := newRig(t, softkey.Config{})
	r.key.SetTouch(softkey.TouchNever, 0)
	if err := r.c.Send(r.c.CID, host.CmdCBOR, []byte{0x0b}); err != nil {
		t.Fatal(err)
	}
	nonce := []byte("12345678")
	if err := r.c.Send(r.c.CID, host.CmdInit, nonce); err != nil {
		t.Fatal(err)
	}
	for {
		cmd, data, err := r.c.Recv(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if cmd == host.CmdInit {
			if !bytes.Equal(data[:8], nonce) || binary.BigEndian.Uint32(data[8:]) != r.c.CID {
				t.Fatalf("resync reply %x", data)
			}
			break
		}
	}
	if got, err := r.c.Ping(ctx(t), []byte("after")); err != nil || string(got) != "after" {
		t.Fatalf("ping after resync: %q %v", got, err)
	}
}

func TestKeepalivesWhileWaitingForATouch(t *testing.T) {
	r := newRig(t, softkey.Config{})
	r.key.SetTouch(softkey.TouchAfterDelay, 150*time.Millisecond)
	if _, err := r.c.CBOR(ctx(t), 0x0b, nil); err != nil {
		t.Fatalf("selection: %v", err)
	}
	// UPNEEDED while waiting; PROCESSING may follow once touched.
	ka := r.c.Keepalives
	if len(ka) == 0 || ka[0] != 2 {
		t.Fatalf("keepalive statuses %v, want UPNEEDED first", ka)
	}
	for _, s := range ka {
		if s != 1 && s != 2 {
			t.Fatalf("keepalive statuses %v", ka)
		}
	}
}

func TestUnplugEndsReadsAndWrites(t *testing.T) {
	r := newRig(t, softkey.Config{})
	r.key.SetTouch(softkey.TouchNever, 0)
	if err := r.c.Send(r.c.CID, host.CmdCBOR, []byte{0x0b}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := r.conn.Read(context.Background()); err != nil {
				done <- err
				return
			}
		}
	}()
	r.conn.Unplug()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) || !errors.Is(err, softkey.ErrUnplugged) || !errors.Is(err, kiosk.ErrDeviceGone) {
			t.Fatalf("read after unplug: %v", err)
		}
	case <-ctx(t).Done():
		t.Fatal("Read did not return after Unplug")
	}
	if err := r.conn.Write(make([]byte, 64)); !errors.Is(err, softkey.ErrUnplugged) {
		t.Fatalf("write after unplug: %v", err)
	}
	if r.key.Plugged() {
		t.Fatal("key still plugged")
	}
}
