// Package host is a small CTAPHID host for the virtual key: it frames and
// reassembles messages over any 64-byte report pipe (a softkey.Conn), runs
// the CTAP2 commands, and does the platform side of the PIN/UV auth
// protocols. It is strict where a host should be: a reply on another
// channel, a truncated message or an impossible length is an error, not
// something to wait out.
//
// It serves the demo (fido/softkey/demokey) and the tests; the appliance
// talks to real keys through libfido2 (fido/usbkey).
package host

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"passkiosk/fido/softkey/internal/hidframe"
)

// Device is the report pipe of a key, as softkey.Conn provides it.
type Device interface {
	// Write delivers one host-to-device report.
	Write(pkt []byte) error
	// Read returns the next device-to-host report; it fails once the
	// key is unplugged.
	Read(ctx context.Context) ([]byte, error)
}

// CTAPHID constants (CTAP 2.1 §11.2).
const (
	PacketSize   = 64
	MaxMessage   = 7609
	BroadcastCID = 0xffffffff

	CmdPing      = 0x81
	CmdMsg       = 0x83
	CmdLock      = 0x84
	CmdInit      = 0x86
	CmdWink      = 0x88
	CmdCBOR      = 0x90
	CmdCancel    = 0x91
	CmdKeepalive = 0xbb
	CmdError     = 0xbf
)

// Errors of a reply that breaks CTAPHID framing.
var (
	ErrWrongChannel = errors.New("softkey host: reply on another channel")
	ErrTruncated    = errors.New("softkey host: message cut short")
	ErrTooLong      = errors.New("softkey host: announced length beyond CTAPHID's maximum")
)

// HIDError is a CTAPHID_ERROR reply.
type HIDError byte

func (e HIDError) Error() string { return fmt.Sprintf("softkey host: CTAPHID_ERROR 0x%02x", byte(e)) }

// Client is one host channel on a device.
type Client struct {
	Dev Device
	CID uint32
	// Caps is the capability byte from CTAPHID_INIT.
	Caps byte
	// Keepalives records the status of every KEEPALIVE seen.
	Keepalives []byte
	// SkipOtherChannels ignores reports for other channels, as libfido2
	// does, instead of failing with ErrWrongChannel.
	SkipOtherChannels bool

	// hmac is the key agreement of the last hmac-secret request, kept to
	// decrypt the outputs of getNextAssertion too.
	hmac *agreement
}

// Open allocates a channel with CTAPHID_INIT on the broadcast channel.
func Open(ctx context.Context, dev Device) (*Client, error) {
	c := &Client{Dev: dev, CID: BroadcastCID}
	nonce := make([]byte, 8)
	rand.Read(nonce)
	if err := c.Send(BroadcastCID, CmdInit, nonce); err != nil {
		return nil, err
	}
	// Skip what is not the answer to this INIT, as libfido2 does: a late
	// answer to another channel's request, or another host's INIT.
	c.SkipOtherChannels = true
	var cmd byte
	var reply []byte
	for {
		var err error
		if cmd, reply, err = c.Recv(ctx); err != nil {
			return nil, err
		}
		if cmd == CmdInit && len(reply) == 17 && string(reply[:8]) == string(nonce) {
			break
		}
	}
	c.SkipOtherChannels = false
	c.CID = binary.BigEndian.Uint32(reply[8:12])
	c.Caps = reply[16]
	return c, nil
}

// Send frames a message into reports and writes them.
func (c *Client) Send(cid uint32, cmd byte, data []byte) error {
	for _, p := range Frame(cid, cmd, data) {
		if err := c.Dev.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// Frame splits a message into an initialization packet and continuation
// packets.
func Frame(cid uint32, cmd byte, data []byte) [][]byte {
	p := make([]byte, PacketSize)
	binary.BigEndian.PutUint32(p, cid)
	p[4] = cmd
	binary.BigEndian.PutUint16(p[5:], uint16(len(data)))
	n := copy(p[7:], data)
	return append([][]byte{p}, hidframe.Continuations(cid, data[n:])...)
}

// Recv reads one reply message on the client's channel, skipping and
// recording keepalives. A CTAPHID_ERROR reply is returned as HIDError.
func (c *Client) Recv(ctx context.Context) (cmd byte, data []byte, err error) {
	var p []byte
	for {
		p, err = c.Dev.Read(ctx)
		if err != nil {
			return 0, nil, err
		}
		if cid := binary.BigEndian.Uint32(p); cid != c.CID {
			if c.SkipOtherChannels {
				continue
			}
			return 0, nil, fmt.Errorf("%w: 0x%08x, want 0x%08x", ErrWrongChannel, cid, c.CID)
		}
		if p[4]&0x80 == 0 {
			return 0, nil, fmt.Errorf("softkey host: continuation packet where a message should start")
		}
		if p[4] != CmdKeepalive {
			break
		}
		c.Keepalives = append(c.Keepalives, p[7])
	}
	cmd = p[4]
	n := int(binary.BigEndian.Uint16(p[5:]))
	if n > MaxMessage {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrTooLong, n)
	}
	data = append(data, p[7:7+min(n, PacketSize-7)]...)
	for seq := byte(0); len(data) < n; seq++ {
		p, err = c.Dev.Read(ctx)
		if err != nil {
			return 0, nil, err
		}
		if binary.BigEndian.Uint32(p) != c.CID {
			return 0, nil, ErrWrongChannel
		}
		if p[4] != seq {
			return 0, nil, fmt.Errorf("%w: got 0x%02x where continuation %d belongs", ErrTruncated, p[4], seq)
		}
		data = append(data, p[5:5+min(n-len(data), PacketSize-5)]...)
	}
	if cmd == CmdError {
		if len(data) != 1 {
			return 0, nil, fmt.Errorf("softkey host: CTAPHID_ERROR of %d bytes", len(data))
		}
		return cmd, data, HIDError(data[0])
	}
	return cmd, data, nil
}

// Transact sends a message on the client's channel and reads the reply,
// which must carry the same command. When ctx ends first, the request is
// cancelled (abandon).
func (c *Client) Transact(ctx context.Context, cmd byte, data []byte) ([]byte, error) {
	if err := c.Send(c.CID, cmd, data); err != nil {
		return nil, err
	}
	rcmd, reply, err := c.Recv(ctx)
	if err != nil {
		if ctx.Err() != nil {
			c.abandon()
		}
		return nil, err
	}
	if rcmd != cmd {
		return nil, fmt.Errorf("softkey host: reply command 0x%02x to 0x%02x", rcmd, cmd)
	}
	return reply, nil
}

// Ping echoes data through the key.
func (c *Client) Ping(ctx context.Context, data []byte) ([]byte, error) {
	return c.Transact(ctx, CmdPing, data)
}

// Wink asks the key to blink.
func (c *Client) Wink(ctx context.Context) error {
	_, err := c.Transact(ctx, CmdWink, nil)
	return err
}

// abandonWait bounds how long abandon waits for the key's answer to a
// cancelled request.
const abandonWait = 2 * time.Second

// abandon cancels the request outstanding on the channel and reads the
// key's answer to it (CTAP2_ERR_KEEPALIVE_CANCEL, CTAP 2.1 §11.2.9.1.5,
// or whatever it was about to say), so that the answer does not land on
// the next request, which would then read another channel's reply while
// the key calls itself busy.
func (c *Client) abandon() {
	if c.Cancel() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), abandonWait)
	defer cancel()
	_, _, _ = c.Recv(ctx)
}

// Cancel sends CTAPHID_CANCEL, which has no reply of its own.
func (c *Client) Cancel() error {
	return c.Send(c.CID, CmdCancel, nil)
}
