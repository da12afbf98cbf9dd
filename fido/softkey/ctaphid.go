package softkey

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"passkiosk/fido/softkey/internal/hidframe"
	"passkiosk/kiosk"
)

// CTAPHID framing (CTAP 2.1 §11.2.4). A report is 64 bytes; an
// initialization packet carries CID(4) CMD(1) BCNT(2) and 57 data bytes, a
// continuation packet CID(4) SEQ(1) and 59 data bytes, with SEQ 0..127, so
// one message holds at most 57 + 128·59 = 7609 bytes.
const (
	PacketSize   = 64
	initDataSize = PacketSize - 7
	contDataSize = PacketSize - 5
	MaxMessage   = initDataSize + 128*contDataSize

	broadcastCID = 0xffffffff
)

// CTAPHID commands (CTAP 2.1 §11.2.9), with the initialization bit set.
const (
	hidPing      = 0x81
	hidMsg       = 0x83
	hidLock      = 0x84
	hidInit      = 0x86
	hidWink      = 0x88
	hidCBOR      = 0x90
	hidCancel    = 0x91
	hidKeepalive = 0xbb
	hidError     = 0xbf
)

// CTAPHID_ERROR codes (CTAP 2.1 §11.2.9.1.6).
const (
	hidErrInvalidCmd     = 0x01
	hidErrInvalidPar     = 0x02
	hidErrInvalidLen     = 0x03
	hidErrInvalidSeq     = 0x04
	hidErrMsgTimeout     = 0x05
	hidErrChannelBusy    = 0x06
	hidErrInvalidChannel = 0x0b
)

// CTAPHID_INIT capability flags and KEEPALIVE statuses.
const (
	capWink = 0x01
	capCBOR = 0x04
	capNMSG = 0x08 // no CTAPHID_MSG: the key speaks CTAP2 only

	keepaliveProcessing = 1
	keepaliveUPNeeded   = 2
)

// ErrUnplugged is what Read and Write return once the key is pulled out.
// It is of kind device-gone and wraps io.EOF, so both errors.Is(err,
// kiosk.ErrDeviceGone) and errors.Is(err, io.EOF) hold.
var ErrUnplugged error = kiosk.E(kiosk.KindDeviceGone, errOp, fmt.Errorf("key unplugged: %w", io.EOF))

// Conn is one attachment of the key to a host: the two directions of the
// HID interrupt pipe. Write and Read may be called from different
// goroutines.
type Conn struct {
	k      *Key
	done   chan struct{}
	notify chan struct{}

	mu       sync.Mutex
	closed   bool
	out      [][]byte
	channels map[uint32]bool
	nextCID  uint32
	asm      *assembly
	tx       *txn
}

// assembly is a request message arriving over several packets.
type assembly struct {
	cid   uint32
	cmd   byte
	want  int
	data  []byte
	seq   byte
	timer *time.Timer
}

// txn is one CTAPHID_CBOR transaction in progress.
type txn struct {
	ctx    context.Context
	cancel context.CancelFunc
	cid    uint32
	status atomic.Uint32
	conn   *Conn
}

func newConn(k *Key) *Conn {
	return &Conn{
		k:        k,
		done:     make(chan struct{}),
		notify:   make(chan struct{}, 1),
		channels: map[uint32]bool{},
		nextCID:  1,
	}
}

// Write delivers one host→device report of up to 64 bytes, without the
// report ID byte; shorter reports are zero-padded as HID does.
func (c *Conn) Write(pkt []byte) error {
	if len(pkt) > PacketSize {
		return kiosk.Errorf(kiosk.KindMalformed, errOp, "report of %d bytes, at most %d", len(pkt), PacketSize)
	}
	var p [PacketSize]byte
	copy(p[:], pkt)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrUnplugged
	}
	cid := binary.BigEndian.Uint32(p[:4])
	if p[4]&0x80 != 0 {
		c.initPacketLocked(cid, p)
	} else {
		c.contPacketLocked(cid, p)
	}
	return nil
}

func (c *Conn) initPacketLocked(cid uint32, p [PacketSize]byte) {
	cmd := p[4]
	n := int(p[5])<<8 | int(p[6])
	if cmd == hidInit {
		c.handleInitLocked(cid, n, p[7:])
		return
	}
	if cid == 0 || cid == broadcastCID || !c.channels[cid] {
		c.errorLocked(cid, hidErrInvalidChannel)
		return
	}
	if cmd == hidCancel {
		// CTAP 2.1 §11.2.9.1.5: cancel only touches a transaction on the
		// same channel and never gets a response of its own.
		if c.tx != nil && c.tx.cid == cid {
			c.tx.cancel()
		}
		return
	}
	if c.tx != nil {
		c.errorLocked(cid, hidErrChannelBusy)
		return
	}
	if c.asm != nil {
		if c.asm.cid != cid {
			c.errorLocked(cid, hidErrChannelBusy)
			return
		}
		// A new message on a channel still sending the previous one: the
		// previous one is lost and the sequence is broken.
		c.dropAssemblyLocked()
		c.errorLocked(cid, hidErrInvalidSeq)
		return
	}
	if n > MaxMessage {
		c.errorLocked(cid, hidErrInvalidLen)
		return
	}
	a := &assembly{cid: cid, cmd: cmd, want: n, data: make([]byte, 0, n)}
	a.data = append(a.data, p[7:7+min(n, initDataSize)]...)
	if len(a.data) == a.want {
		c.dispatchLocked(a)
		return
	}
	c.asm = a
	a.timer = time.AfterFunc(c.k.cfg.MessageTimeout, func() { c.assemblyTimeout(a) })
}

func (c *Conn) contPacketLocked(cid uint32, p [PacketSize]byte) {
	a := c.asm
	if a == nil || a.cid != cid {
		// Spurious continuation packets are ignored (CTAP 2.1 §11.2.4).
		return
	}
	if p[4] != a.seq {
		c.dropAssemblyLocked()
		c.errorLocked(cid, hidErrInvalidSeq)
		return
	}
	a.seq++
	a.data = append(a.data, p[5:5+min(a.want-len(a.data), contDataSize)]...)
	if len(a.data) == a.want {
		c.dropAssemblyLocked()
		c.dispatchLocked(a)
	}
}

func (c *Conn) dropAssemblyLocked() {
	if c.asm != nil {
		c.asm.timer.Stop()
		c.asm = nil
	}
}

func (c *Conn) assemblyTimeout(a *assembly) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asm != a || c.closed {
		return
	}
	c.asm = nil
	c.errorLocked(a.cid, hidErrMsgTimeout)
}

// handleInitLocked answers CTAPHID_INIT (CTAP 2.1 §11.2.9.1.3): on the
// broadcast channel it allocates a channel; on an allocated channel it
// aborts whatever that channel was doing and resynchronises.
func (c *Conn) handleInitLocked(cid uint32, n int, data []byte) {
	if n != 8 {
		c.errorLocked(cid, hidErrInvalidLen)
		return
	}
	reply := make([]byte, 17)
	copy(reply, data[:8])
	switch {
	case cid == broadcastCID:
		newCID := c.nextCID
		c.nextCID++
		if c.nextCID == broadcastCID {
			c.nextCID = 1
		}
		c.channels[newCID] = true
		binary.BigEndian.PutUint32(reply[8:], newCID)
	case c.channels[cid]:
		if c.asm != nil && c.asm.cid == cid {
			c.dropAssemblyLocked()
		}
		if c.tx != nil && c.tx.cid == cid {
			c.tx.cancel()
			c.tx = nil
		}
		binary.BigEndian.PutUint32(reply[8:], cid)
	default:
		c.errorLocked(cid, hidErrInvalidChannel)
		return
	}
	reply[12] = 2                             // CTAPHID protocol version
	reply[13], reply[14], reply[15] = 1, 0, 0 // device version 1.0.0
	reply[16] = capWink | capCBOR | capNMSG
	c.sendLocked(cid, hidInit, reply, None)
}

func (c *Conn) dispatchLocked(a *assembly) {
	switch a.cmd {
	case hidPing:
		c.sendLocked(a.cid, hidPing, a.data, None)
	case hidWink:
		c.k.sw.Lock()
		c.k.winks++
		c.k.sw.Unlock()
		c.sendLocked(a.cid, hidWink, nil, None)
	case hidCBOR:
		if len(a.data) == 0 {
			c.errorLocked(a.cid, hidErrInvalidLen)
			return
		}
		c.startTxLocked(a.cid, a.data)
	default:
		// CTAPHID_MSG (U2F) and CTAPHID_LOCK are not offered.
		c.errorLocked(a.cid, hidErrInvalidCmd)
	}
}

// startTxLocked runs one CBOR command in its own goroutine so that the key
// keeps reading packets (CANCEL, other channels) and sends KEEPALIVE while
// it waits for a person.
func (c *Conn) startTxLocked(cid uint32, req []byte) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &txn{ctx: ctx, cancel: cancel, cid: cid, conn: c}
	t.status.Store(keepaliveProcessing)
	c.tx = t
	go c.runTx(t, req)
}

func (c *Conn) runTx(t *txn, req []byte) {
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(c.k.cfg.KeepaliveInterval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				c.mu.Lock()
				if c.tx == t && !c.closed {
					c.sendLocked(t.cid, hidKeepalive, []byte{byte(t.status.Load())}, None)
				}
				c.mu.Unlock()
			}
		}
	}()
	resp, fault := c.k.handleCBOR(t, req)
	close(stop)
	<-stopped
	defer t.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tx != t || c.closed {
		// Resynchronised by INIT or unplugged: the answer goes nowhere.
		return
	}
	if fault == WrongChannel {
		c.strayAnswerLocked(t, resp)
		return
	}
	c.tx = nil
	c.sendLocked(t.cid, hidCBOR, resp, fault)
}

// strayAnswerLocked sends the answer to another channel and then behaves
// as if the request were still pending on the right one, as firmware that
// mixed up its channels would: the host hears nothing until it cancels
// (then KEEPALIVE_CANCEL comes back on its channel, CTAP 2.1 §11.2.9.1.5),
// resynchronises with INIT, or the touch timeout passes.
func (c *Conn) strayAnswerLocked(t *txn, resp []byte) {
	c.sendLocked(t.cid, hidCBOR, resp, WrongChannel)
	c.mu.Unlock()
	limit := time.NewTimer(c.k.cfg.TouchTimeout)
	select {
	case <-t.ctx.Done():
	case <-limit.C:
	}
	limit.Stop()
	c.mu.Lock()
	if c.tx != t || c.closed {
		return
	}
	c.tx = nil
	if t.ctx.Err() != nil {
		c.sendLocked(t.cid, hidCBOR, []byte{byte(StatusKeepaliveCancel)}, None)
	}
}

func (c *Conn) errorLocked(cid uint32, code byte) {
	c.sendLocked(cid, hidError, []byte{code}, None)
}

// sendLocked frames a response into reports and queues them for Read,
// applying a framing fault if one is given.
func (c *Conn) sendLocked(cid uint32, cmd byte, data []byte, fault Fault) {
	if c.closed {
		return
	}
	bcnt := len(data)
	switch fault {
	case WrongChannel:
		cid++
		if cid == broadcastCID || cid == 0 {
			cid = 1
		}
	case OversizedLength:
		bcnt = 0xffff
	case TruncatedFrame:
		// The announced length always needs at least one continuation
		// packet, so a reply that would fit in the initialization packet
		// is cut short too.
		bcnt = max(bcnt, initDataSize+1)
	}
	first := make([]byte, PacketSize)
	binary.BigEndian.PutUint32(first, cid)
	first[4] = cmd
	binary.BigEndian.PutUint16(first[5:], uint16(bcnt))
	n := copy(first[7:], data)
	c.out = append(c.out, first)
	switch fault {
	case OversizedLength:
		c.wake()
		return
	case TruncatedFrame:
		// Where the first continuation belongs comes a new
		// initialization packet: the message is cut short.
		ka := make([]byte, PacketSize)
		binary.BigEndian.PutUint32(ka, cid)
		ka[4], ka[6], ka[7] = hidKeepalive, 1, keepaliveProcessing
		c.out = append(c.out, ka)
		c.wake()
		return
	}
	c.out = append(c.out, hidframe.Continuations(cid, data[n:])...)
	c.wake()
}

func (c *Conn) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Read returns the next 64-byte device→host report. It blocks until one is
// ready, ctx ends, or the key is unplugged (ErrUnplugged).
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrUnplugged
		}
		if len(c.out) > 0 {
			p := c.out[0]
			c.out[0] = nil
			c.out = c.out[1:]
			c.mu.Unlock()
			return p, nil
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
		case <-c.notify:
		}
	}
}

// Unplug pulls the key out: the operation in progress ends, queued reports
// are lost, and Read and Write return ErrUnplugged.
func (c *Conn) Unplug() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	// The key knows it is out before any reader learns it (lock order:
	// c.mu, then k.mu; nothing holds k.mu while taking c.mu).
	c.k.unplugged(c)
	close(c.done)
	c.out = nil
	c.dropAssemblyLocked()
	if c.tx != nil {
		c.tx.cancel()
		c.tx = nil
	}
	c.mu.Unlock()
}

// Done is closed when the connection is unplugged.
func (c *Conn) Done() <-chan struct{} { return c.done }
