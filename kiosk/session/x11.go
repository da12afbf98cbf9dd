package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// x11conn is the smallest X11 client the idle source needs: connection
// setup with MIT-MAGIC-COOKIE-1, QueryExtension, and requests with
// replies. It speaks the core protocol as the X Window System Protocol
// document (X11R7, "Connection Setup", "Request Format") describes it,
// little-endian, over the local Unix socket only.
type x11conn struct {
	c    net.Conn
	seq  uint16
	root uint32 // the first screen's root window
}

var le = binary.LittleEndian

// displaySocket maps DISPLAY (":0", ":0.0", "unix:1") to the server's
// Unix socket. Remote displays are refused: the appliance's display is
// local, and its idle time must not depend on a network.
func displaySocket(display string) (string, string, error) {
	host, rest, ok := strings.Cut(display, ":")
	if !ok || (host != "" && host != "unix") {
		return "", "", fmt.Errorf("display %q is not a local X display", display)
	}
	num, _, _ := strings.Cut(rest, ".")
	if _, err := strconv.Atoi(num); err != nil {
		return "", "", fmt.Errorf("display %q has no display number", display)
	}
	return "/tmp/.X11-unix/X" + num, num, nil
}

// errX11Refused is a server that answered and did not admit the client.
var errX11Refused = errors.New("x11 server refused the connection")

func dialX11(display, authFile string, timeout time.Duration) (*x11conn, error) {
	sock, num, err := displaySocket(display)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("unix", sock, timeout)
	if err != nil {
		return nil, err
	}
	x := &x11conn{c: c}
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := x.setup(xauthCookie(authFile, num)); err != nil {
		c.Close()
		return nil, err
	}
	return x, nil
}

func pad4(n int) int { return (4 - n%4) % 4 }

// setup sends the connection setup and keeps the first root window.
func (x *x11conn) setup(cookie []byte) error {
	name := ""
	if cookie != nil {
		name = "MIT-MAGIC-COOKIE-1"
	}
	var b bytes.Buffer
	b.Write([]byte{'l', 0})
	binary.Write(&b, le, [4]uint16{11, 0, uint16(len(name)), uint16(len(cookie))})
	b.Write([]byte{0, 0})
	b.WriteString(name)
	b.Write(make([]byte, pad4(len(name))))
	b.Write(cookie)
	b.Write(make([]byte, pad4(len(cookie))))
	if _, err := x.c.Write(b.Bytes()); err != nil {
		return err
	}
	head := make([]byte, 8)
	if _, err := io.ReadFull(x.c, head); err != nil {
		return fmt.Errorf("x11 setup: %w", err)
	}
	body := make([]byte, int(le.Uint16(head[6:]))*4)
	if _, err := io.ReadFull(x.c, body); err != nil {
		return fmt.Errorf("x11 setup: %w", err)
	}
	if head[0] != 1 {
		reason := body
		if n := int(head[1]); n <= len(body) {
			reason = body[:n]
		}
		return fmt.Errorf("%w: %q", errX11Refused, reason)
	}
	if len(body) < 32 {
		return errors.New("x11 setup reply too short")
	}
	vendor, formats := int(le.Uint16(body[16:])), int(body[21])
	off := 32 + vendor + pad4(vendor) + 8*formats
	if body[20] == 0 || off+4 > len(body) {
		return errors.New("x11 setup reply has no screen")
	}
	x.root = le.Uint32(body[off:])
	return nil
}

// send writes one request that has no reply.
func (x *x11conn) send(req []byte) error {
	x.seq++
	_, err := x.c.Write(req)
	return err
}

// roundTrip writes a request and returns its reply, skipping events.
func (x *x11conn) roundTrip(req []byte) ([]byte, error) {
	if err := x.send(req); err != nil {
		return nil, err
	}
	for {
		p := make([]byte, 32)
		if _, err := io.ReadFull(x.c, p); err != nil {
			return nil, err
		}
		switch p[0] {
		case 0:
			return nil, fmt.Errorf("x11 error %d for request %d.%d", p[1], p[10], le.Uint16(p[8:]))
		case 1:
			if extra := le.Uint32(p[4:]); extra > 0 {
				if extra > 1<<16 {
					return nil, errors.New("x11 reply too long")
				}
				more := make([]byte, extra*4)
				if _, err := io.ReadFull(x.c, more); err != nil {
					return nil, err
				}
				p = append(p, more...)
			}
			if le.Uint16(p[2:]) != x.seq {
				continue // the reply to an earlier request
			}
			return p, nil
		}
		// An event: none are selected, but skip any that arrive.
	}
}

// extension returns the major opcode of a named extension
// (QueryExtension, core request 98).
func (x *x11conn) extension(name string) (byte, error) {
	req := make([]byte, 8+len(name)+pad4(len(name)))
	req[0] = 98
	le.PutUint16(req[2:], uint16(len(req)/4))
	le.PutUint16(req[4:], uint16(len(name)))
	copy(req[8:], name)
	p, err := x.roundTrip(req)
	if err != nil {
		return 0, err
	}
	if p[8] == 0 {
		return 0, fmt.Errorf("x11 server lacks the %s extension", name)
	}
	return p[9], nil
}

// xauthCookie finds the MIT-MAGIC-COOKIE-1 for display number num in an
// Xauthority file (the format of Xau(3): big-endian counted strings for
// family, address, number, name and data). nil means connect without
// authorization, which a server started without -auth accepts.
func xauthCookie(file, num string) []byte {
	if file == "" {
		if home, err := os.UserHomeDir(); err == nil {
			file = filepath.Join(home, ".Xauthority")
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	field := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, false
		}
		f := b[2 : 2+n]
		b = b[2+n:]
		return f, true
	}
	for len(b) >= 2 {
		b = b[2:] // family: local (256) or wild (65535) for a Unix socket
		var f [4][]byte
		for i := range f {
			var ok bool
			if f[i], ok = field(); !ok {
				return nil
			}
		}
		if (string(f[1]) == num || len(f[1]) == 0) && string(f[2]) == "MIT-MAGIC-COOKIE-1" {
			return f[3]
		}
	}
	return nil
}
