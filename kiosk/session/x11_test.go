package session

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
)

// startXvfb runs a real X server on a free display with a cookie file and
// returns the display and the file.
func startXvfb(t *testing.T, cookie []byte) (string, string) {
	t.Helper()
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("Xvfb not installed (Debian package xvfb)")
	}
	// -displayfd lets the server pick a free display and tell us which,
	// so parallel test runs and other X servers on the machine never
	// collide. The number is not known when the cookie file is written,
	// so its entry has an empty display number: the server loads every
	// cookie in its -auth file, and xauthCookie takes an empty number as
	// a wildcard.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(t.TempDir(), "Xauthority")
	writeAuth := func(num string) {
		host, _ := os.Hostname()
		var b []byte
		put := func(s []byte) { b = binary.BigEndian.AppendUint16(b, uint16(len(s))); b = append(b, s...) }
		b = binary.BigEndian.AppendUint16(b, 256) // FamilyLocal
		put([]byte(host))
		put([]byte(num))
		put([]byte("MIT-MAGIC-COOKIE-1"))
		put(cookie)
		if err := os.WriteFile(auth, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeAuth("")
	cmd := exec.Command(xvfb, "-displayfd", "3", "-noreset", "-nolisten", "tcp", "-auth", auth, "-screen", "0", "640x480x24")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// The read end stays open while the server runs: a server that
	// resets writes its display number again, and dies if it cannot.
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		stop := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
		cmd.Wait()
		stop.Stop()
		r.Close()
	})
	_ = r.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 16)
	n, err := r.Read(buf)
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	num := strings.TrimSpace(string(buf[:n]))
	return ":" + num, auth
}

// fakeMotion moves the pointer through the XTEST extension (FakeInput,
// xtestproto.h), as real input would, and waits for the server to have
// processed it.
func fakeMotion(t *testing.T, display, auth string, x, y int16) {
	t.Helper()
	c, err := dialX11(display, auth, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.c.Close()
	major, err := c.extension("XTEST")
	if err != nil {
		t.Fatal(err)
	}
	req := make([]byte, 36)
	req[0], req[1] = major, 2 // X_XTestFakeInput
	le.PutUint16(req[2:], 9)
	req[4] = 6 // MotionNotify, absolute
	le.PutUint16(req[24:], uint16(x))
	le.PutUint16(req[26:], uint16(y))
	if err := c.send(req); err != nil {
		t.Fatal(err)
	}
	// GetInputFocus (43) as a round trip: its reply comes after the
	// fake input was processed.
	if _, err := c.roundTrip([]byte{43, 0, 1, 0}); err != nil {
		t.Fatal(err)
	}
}

func TestX11IdleGrowsWithoutInputAndResetsOnInput(t *testing.T) {
	cookie := make([]byte, 16)
	rand.Read(cookie)
	display, auth := startXvfb(t, cookie)
	src := &X11Idle{Display: display, XAuthority: auth}
	defer src.Close()
	ctx := context.Background()

	fakeMotion(t, display, auth, 10, 10)
	d1, err := src.Idle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // let idle time accrue: no input now
	d2, err := src.Idle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d2 <= d1 {
		t.Fatalf("idle did not grow without input: %v then %v", d1, d2)
	}
	fakeMotion(t, display, auth, 200, 150)
	d3, err := src.Idle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d3 >= d2 {
		t.Fatalf("input did not reset idle: %v before, %v after", d2, d3)
	}
}

func TestX11IdleErrors(t *testing.T) {
	cookie := make([]byte, 16)
	rand.Read(cookie)
	display, _ := startXvfb(t, cookie)
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte{1, 0, 0, 0, 0, 0, 0, 18, 'M', 'I', 'T', '-', 'M', 'A', 'G', 'I', 'C', '-', 'C', 'O', 'O', 'K', 'I', 'E', '-', '1', 0, 1, 'x'}, 0o600)
	for name, src := range map[string]*X11Idle{
		"wrong cookie":   {Display: display, XAuthority: wrong},
		"remote display": {Display: "example.org:0"},
		"no server":      {Display: ":99999", XAuthority: wrong},
	} {
		if _, err := src.Idle(context.Background()); !errors.Is(err, kiosk.ErrDevice) {
			t.Errorf("%s: err = %v, want kind device", name, err)
		}
	}
}

func TestXauthCookieSkipsOtherDisplays(t *testing.T) {
	var b []byte
	put := func(s string) { b = binary.BigEndian.AppendUint16(b, uint16(len(s))); b = append(b, s...) }
	for _, e := range [][2]string{{"3", "cookie-three"}, {"7", "cookie-seven"}} {
		b = binary.BigEndian.AppendUint16(b, 256)
		put("host")
		put(e[0])
		put("MIT-MAGIC-COOKIE-1")
		put(e[1])
	}
	f := filepath.Join(t.TempDir(), "xa")
	os.WriteFile(f, b, 0o600)
	if got := string(xauthCookie(f, "7")); got != "cookie-seven" {
		t.Errorf("cookie for :7 = %q", got)
	}
	if got := xauthCookie(f, "5"); got != nil {
		t.Errorf("cookie for :5 = %q, want none", got)
	}
	os.WriteFile(f, b[:len(b)-3], 0o600) // truncated last entry
	if got := string(xauthCookie(f, "3")); got != "cookie-three" {
		t.Errorf("truncated file: cookie for :3 = %q", got)
	}
}
