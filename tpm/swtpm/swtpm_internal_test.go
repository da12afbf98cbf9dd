package swtpm

import (
	"context"
	"net"
	"strconv"
	"testing"
)

// A data port taken by another program between choosing it and swtpm
// binding it is not mistaken for swtpm: swtpm fails to bind it, and Start
// picks another port and reports that one.
func TestStartTCPTakesAnotherPortWhenItsPortIsTaken(t *testing.T) {
	if !Available() {
		t.Skip("swtpm is not installed (Debian package swtpm)")
	}
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	taken := squatter.Addr().(*net.TCPAddr).Port

	picks := 0
	pickPort = func() (int, error) {
		picks++
		if picks == 1 {
			return taken, nil
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()

	p, err := StartWith(context.Background(), t.TempDir(), Options{TCP: true})
	if err != nil {
		t.Fatalf("StartWith TCP: %v", err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}()
	if picks != 2 || p.Port == taken || p.Port == 0 {
		t.Fatalf("picked %d times, serving on port %d (taken: %d)", picks, p.Port, taken)
	}
	if want := "tcp:127.0.0.1:" + strconv.Itoa(p.Port); p.Address() != want {
		t.Errorf("Address %q, want %q", p.Address(), want)
	}
	// The TPM answers on the reported port: TPM2_GetRandom(8).
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x7b, 0, 8}); err != nil {
		t.Fatal(err)
	}
	rsp := make([]byte, 20)
	if n, err := c.Read(rsp); err != nil || n < 10 || rsp[6]|rsp[7]|rsp[8]|rsp[9] != 0 {
		t.Fatalf("TPM2_GetRandom on the reported port: %x, %v", rsp[:n], err)
	}
}
