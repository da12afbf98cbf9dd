package uilink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// Message types: the first byte of every frame.
const (
	msgHello     byte = 1
	msgView      byte = 2
	msgCommand   byte = 3
	msgClipboard byte = 4 // daemon asks the window to empty the clipboard
	msgCleared   byte = 5 // the window's answer
	msgPing      byte = 6
)

// Limits of a frame (type byte and body), by who reads it. A command is a
// few bytes (the longest argument is a typed name); a View carries the
// lock screen's tiles and notices, a few KiB.
const (
	MaxCommandFrame = 4 << 10
	MaxViewFrame    = 1 << 20
)

// errFrame is a frame that breaks the protocol: the connection ends.
var errFrame = errors.New("malformed frame")

// frameErr wraps errFrame with what was wrong.
func frameErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errFrame, fmt.Sprintf(format, args...))
}

// writeFrame writes one frame within timeout and zeroes the buffer it
// built, which may hold a PIN.
func writeFrame(c net.Conn, timeout time.Duration, typ byte, body []byte) error {
	buf := make([]byte, 5+len(body))
	binary.BigEndian.PutUint32(buf, uint32(1+len(body)))
	buf[4] = typ
	copy(buf[5:], body)
	defer func() {
		wipe(buf)
		if h := testHookWiped.Load(); h != nil && typ == msgCommand {
			(*h)("window frame", buf)
		}
	}()
	if err := c.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := c.Write(buf)
	return err
}

// readFrame reads one frame of at most limit bytes, which must arrive
// before deadline. The body is the caller's, to zero when it may hold a
// PIN. It reads straight from the connection, so no buffer of its own
// keeps a copy.
func readFrame(c net.Conn, limit int, deadline time.Time) (typ byte, body []byte, err error) {
	if err := c.SetReadDeadline(deadline); err != nil {
		return 0, nil, err
	}
	return decodeFrame(c, limit)
}

// decodeFrame reads one frame from r (readFrame without the deadline).
func decodeFrame(r io.Reader, limit int) (typ byte, body []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 {
		return 0, nil, frameErr("empty frame")
	}
	if n > uint32(limit) {
		return 0, nil, frameErr("frame of %d bytes, more than the %d allowed", n, limit)
	}
	if _, err := io.ReadFull(r, hdr[4:5]); err != nil {
		return 0, nil, unexpected(err)
	}
	body = make([]byte, n-1)
	if _, err := io.ReadFull(r, body); err != nil {
		wipe(body)
		return 0, nil, unexpected(err)
	}
	return hdr[4], body, nil
}

// unexpected turns an EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// testHookWiped, set by tests only, sees every frame body after it was
// zeroed, on each side.
var testHookWiped atomic.Pointer[func(side string, b []byte)]

// wipe zeroes b.
func wipe(b []byte) { clear(b) }
