package hidtest

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
)

// responder is the smallest CTAPHID device that libfido2 will open: it
// answers CTAPHID_INIT (CTAP 2.1 §11.2.9.1.3) and authenticatorGetInfo
// (§6.4) with single-packet replies, and nothing else. It proves the
// harness plumbing independently of the real virtual key.
type responder struct {
	aaguid  [16]byte
	out     chan []byte
	mu      sync.Mutex
	nextCID uint32
	off     chan struct{}
	once    sync.Once
}

func newResponder(aaguidByte byte) *responder {
	r := &responder{out: make(chan []byte, 16), off: make(chan struct{}), nextCID: 0x01020300}
	for i := range r.aaguid {
		r.aaguid[i] = aaguidByte
	}
	return r
}

func (r *responder) Write(pkt []byte) error {
	select {
	case <-r.off:
		return errors.New("unplugged")
	default:
	}
	if len(pkt) != 64 || pkt[4]&0x80 == 0 {
		return nil
	}
	cid, cmd := pkt[:4], pkt[4]
	switch cmd {
	case 0x86: // INIT: nonce(8) ‖ new CID(4) ‖ protocol, major, minor, build, caps
		r.mu.Lock()
		r.nextCID++
		newCID := r.nextCID
		r.mu.Unlock()
		body := append([]byte(nil), pkt[7:15]...)
		body = binary.BigEndian.AppendUint32(body, newCID)
		body = append(body, 2, 1, 0, 0, 0x04|0x08) // CBOR, no MSG
		r.send(cid, cmd, body)
	case 0x90: // CBOR
		if pkt[7] != 0x04 {
			r.send(cid, 0xbf, []byte{0x01}) // ERR_INVALID_CMD
			return nil
		}
		// {1: ["FIDO_2_0"], 3: aaguid}, canonical CBOR, after status 0.
		body := []byte{0x00, 0xa2, 0x01, 0x81, 0x68}
		body = append(body, "FIDO_2_0"...)
		body = append(body, 0x03, 0x50)
		body = append(body, r.aaguid[:]...)
		r.send(cid, cmd, body)
	}
	return nil
}

func (r *responder) send(cid []byte, cmd byte, body []byte) {
	pkt := make([]byte, 64)
	copy(pkt, cid)
	pkt[4] = cmd
	binary.BigEndian.PutUint16(pkt[5:], uint16(len(body)))
	copy(pkt[7:], body)
	select {
	case r.out <- pkt:
	case <-r.off:
	}
}

func (r *responder) Read(ctx context.Context) ([]byte, error) {
	select {
	case p := <-r.out:
		return p, nil
	case <-r.off:
		return nil, errors.New("unplugged")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *responder) Unplug() { r.once.Do(func() { close(r.off) }) }
