// Package tpmtest is test support for the tpm package and its users: a
// command-counting transport, the in-process simulator and a swtpm process
// per test, and the check that a test left no transient object or session
// loaded in the TPM.
//
// It owns nothing in production and must not be imported by non-test code.
package tpmtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"

	"passkiosk/tpm"
	"passkiosk/tpm/swtpm"
)

// Transport counts the commands sent through it by command code.
type Transport struct {
	next transport.TPM

	mu     sync.Mutex
	counts map[tpm2.TPMCC]int
	order  []tpm2.TPMCC
	times  map[tpm2.TPMCC]time.Duration
}

// Count wraps t.
func Count(t transport.TPM) *Transport {
	return &Transport{next: t, counts: map[tpm2.TPMCC]int{}, times: map[tpm2.TPMCC]time.Duration{}}
}

// Send implements transport.TPM.
func (c *Transport) Send(cmd []byte) ([]byte, error) {
	if len(cmd) < 10 {
		return c.next.Send(cmd)
	}
	cc := tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10]))
	start := time.Now()
	rsp, err := c.next.Send(cmd)
	took := time.Since(start)
	c.mu.Lock()
	c.counts[cc]++
	c.order = append(c.order, cc)
	c.times[cc] += took
	c.mu.Unlock()
	return rsp, err
}

// Times returns the time spent in the TPM by command code since the last
// Reset.
func (c *Transport) Times() map[tpm2.TPMCC]time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[tpm2.TPMCC]time.Duration, len(c.times))
	for k, v := range c.times {
		out[k] = v
	}
	return out
}

// Close does nothing: the test that made the transport closes what is
// underneath, after checking for leaked handles.
func (c *Transport) Close() error { return nil }

// Reset forgets what was counted.
func (c *Transport) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[tpm2.TPMCC]int{}
	c.times = map[tpm2.TPMCC]time.Duration{}
	c.order = nil
}

// Counts returns the number of commands by code since the last Reset.
func (c *Transport) Counts() map[tpm2.TPMCC]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[tpm2.TPMCC]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Commands returns the command codes in the order sent since the last Reset.
func (c *Transport) Commands() []tpm2.TPMCC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]tpm2.TPMCC(nil), c.order...)
}

// Total is the number of commands since the last Reset.
func (c *Transport) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}

// KeyCreating lists the command codes that create a key or primary.
var KeyCreating = []tpm2.TPMCC{
	tpm2.TPMCCCreate, tpm2.TPMCCCreatePrimary, tpm2.TPMCCCreateLoaded,
}

// Name is a command's TPM 2.0 Part 2 name for reports.
func Name(cc tpm2.TPMCC) string {
	if n, ok := names[cc]; ok {
		return n
	}
	return fmt.Sprintf("CC_0x%03x", uint32(cc))
}

var names = map[tpm2.TPMCC]string{
	tpm2.TPMCCLoad: "Load", tpm2.TPMCCSign: "Sign", tpm2.TPMCCFlushContext: "FlushContext",
	tpm2.TPMCCStartAuthSession: "StartAuthSession", tpm2.TPMCCNVIncrement: "NV_Increment",
	tpm2.TPMCCNVRead: "NV_Read", tpm2.TPMCCCreate: "Create", tpm2.TPMCCCreatePrimary: "CreatePrimary",
	tpm2.TPMCCGetCapability: "GetCapability", tpm2.TPMCCReadPublic: "ReadPublic",
	tpm2.TPMCCNVReadPublic: "NV_ReadPublic", tpm2.TPMCCObjectChangeAuth: "ObjectChangeAuth",
	tpm2.TPMCCCertify: "Certify", tpm2.TPMCCEvictControl: "EvictControl",
	tpm2.TPMCCNVDefineSpace: "NV_DefineSpace", tpm2.TPMCCCreateLoaded: "CreateLoaded",
}

// Summary formats counts as "Load=1 Sign=1 …", sorted by name.
func Summary(counts map[tpm2.TPMCC]int) string {
	var parts []string
	for cc, n := range counts {
		parts = append(parts, fmt.Sprintf("%s=%d", Name(cc), n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// LoadedHandles lists the transient objects and sessions (loaded or saved)
// the TPM holds, with TPM2_GetCapability(TPM_CAP_HANDLES) (Part 3 §30.2).
func LoadedHandles(t transport.TPM) ([]tpm2.TPMHandle, error) {
	var out []tpm2.TPMHandle
	for _, ht := range []tpm2.TPMHT{tpm2.TPMHTTransient, tpm2.TPMHTHMACSession, tpm2.TPMHTPolicySession} {
		first := uint32(ht) << 24
		rsp, err := (tpm2.GetCapability{
			Capability:    tpm2.TPMCapHandles,
			Property:      first,
			PropertyCount: 64,
		}).Execute(t)
		if err != nil {
			return nil, fmt.Errorf("TPM2_GetCapability(handles 0x%08x): %w", first, err)
		}
		list, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return nil, fmt.Errorf("TPM2_GetCapability(handles 0x%08x): %w", first, err)
		}
		for _, h := range list.Handle {
			if uint32(h)>>24 == uint32(ht) {
				out = append(out, h)
			}
		}
	}
	return out, nil
}

// CheckNoHandles fails the test if any transient object or session is
// loaded.
func CheckNoHandles(tb testing.TB, t transport.TPM) {
	tb.Helper()
	hs, err := LoadedHandles(t)
	if err != nil {
		tb.Errorf("checking for leaked TPM handles: %v", err)
		return
	}
	if len(hs) != 0 {
		var s []string
		for _, h := range hs {
			s = append(s, fmt.Sprintf("0x%08x", uint32(h)))
		}
		tb.Errorf("TPM handles left loaded: %s", strings.Join(s, " "))
	}
}

// CheckNoHandlesTPM12 is CheckNoHandles for a TPM 1.2, which a TPM 2.0
// command cannot ask: TPM_GetCapability(TPM_CAP_HANDLE) (TPM 1.2 Main Part
// 3 §7.1) for loaded keys (TPM_RT_KEY) and authorization sessions
// (TPM_RT_AUTH) must list none.
func CheckNoHandlesTPM12(tb testing.TB, t transport.TPM) {
	tb.Helper()
	for _, rt := range []struct {
		code uint32
		what string
	}{{1, "keys"}, {2, "authorization sessions"}} {
		cmd := make([]byte, 22)
		binary.BigEndian.PutUint16(cmd[0:], 0x00C1) // TPM_TAG_RQU_COMMAND
		binary.BigEndian.PutUint32(cmd[2:], 22)
		binary.BigEndian.PutUint32(cmd[6:], 0x65)  // TPM_ORD_GetCapability
		binary.BigEndian.PutUint32(cmd[10:], 0x14) // TPM_CAP_HANDLE
		binary.BigEndian.PutUint32(cmd[14:], 4)
		binary.BigEndian.PutUint32(cmd[18:], rt.code)
		rsp, err := t.Send(cmd)
		if err != nil {
			tb.Errorf("checking for leaked TPM 1.2 %s: %v", rt.what, err)
			return
		}
		// tag, paramSize, returnCode, respSize, then the
		// TPM_KEY_HANDLE_LIST: loaded (UINT16) and the handles.
		if len(rsp) < 16 || binary.BigEndian.Uint32(rsp[6:]) != 0 {
			tb.Errorf("checking for leaked TPM 1.2 %s: response %x", rt.what, rsp)
			return
		}
		if n := binary.BigEndian.Uint16(rsp[14:]); n != 0 {
			tb.Errorf("TPM 1.2 %s left loaded: %d", rt.what, n)
		}
	}
}

// Simulator opens the in-process simulator, freshly manufactured, behind a
// counting transport. At cleanup it checks that no handle is left loaded
// and closes the simulator. Only one simulator exists per process: a
// second call waits for the first test's cleanup.
func Simulator(tb testing.TB) *Transport {
	tb.Helper()
	sim, err := simulator.OpenSimulator()
	if err != nil {
		tb.Fatalf("open TPM simulator: %v", err)
	}
	c := Count(sim)
	tb.Cleanup(func() {
		CheckNoHandles(tb, sim)
		// An orderly stop, as the appliance makes one (tpm.TPM.Close).
		if _, err := (tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}).Execute(sim); err != nil {
			tb.Errorf("TPM2_Shutdown(CLEAR) on the simulator: %v", err)
		}
		if err := sim.Close(); err != nil {
			tb.Errorf("close TPM simulator: %v", err)
		}
	})
	return c
}

// Swtpm is a swtpm process owned by one test.
type Swtpm struct {
	tb testing.TB
	*swtpm.Process
}

// StartSwtpm starts a swtpm process for this test alone, in its own
// temporary directory. At cleanup it checks for leaked handles and stops
// the process. The test is skipped, saying why, when swtpm is not
// installed.
func StartSwtpm(tb testing.TB) *Swtpm {
	tb.Helper()
	return StartSwtpmWith(tb, swtpm.Options{})
}

// StartSwtpmWith is StartSwtpm with options: swtpm.Options{TCP: true}
// serves the TPM on a TCP port on 127.0.0.1. Its cleanup checks for leaked
// handles with TPM 2.0 commands, so it is not for a TPM 1.2.
func StartSwtpmWith(tb testing.TB, o swtpm.Options) *Swtpm {
	tb.Helper()
	if !swtpm.Available() {
		tb.Skip("swtpm is not installed (Debian package swtpm): skipping the real-TPM-process test")
	}
	p, err := swtpm.StartWith(context.Background(), tb.TempDir(), o)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	s := &Swtpm{tb: tb, Process: p}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("%v", err)
		}
	})
	// Cleanups run last-registered first: this check runs after the
	// test's own connections closed and before swtpm stops.
	tb.Cleanup(func() {
		c, done := Dial(tb, s.Process)
		defer done()
		CheckNoHandles(tb, c)
	})
	return s
}

// Restart stops swtpm (it saves its state) and starts it again on the same
// state directory and options, as a reboot of the terminal would: the same
// unix socket, or a new TCP port (read Address again). Connections to the
// old process must be closed first.
func (s *Swtpm) Restart() {
	s.tb.Helper()
	if err := s.Stop(); err != nil {
		s.tb.Fatalf("%v", err)
	}
	p, err := swtpm.StartWith(context.Background(), s.Dir, s.Options())
	if err != nil {
		s.tb.Fatalf("restart swtpm: %v", err)
	}
	s.Process = p
}

// PowerCut stops swtpm without TPM2_Shutdown and starts it again, as a
// power cut and a reboot would.
func (s *Swtpm) PowerCut() {
	s.tb.Helper()
	if err := s.Process.PowerCut(); err != nil {
		s.tb.Fatalf("%v", err)
	}
	p, err := swtpm.StartWith(context.Background(), s.Dir, s.Options())
	if err != nil {
		s.tb.Fatalf("restart swtpm: %v", err)
	}
	s.Process = p
}

// Open opens the tpm package on t with cfg and closes it at cleanup
// (before the simulator or swtpm underneath, which were set up first).
func Open(tb testing.TB, t transport.TPM, cfg tpm.Config) *tpm.TPM {
	tb.Helper()
	k, err := tpm.New(nopCloser{t}, cfg)
	if err != nil {
		tb.Fatalf("tpm.New: %v", err)
	}
	tb.Cleanup(func() {
		if err := k.Close(); err != nil {
			tb.Errorf("tpm close: %v", err)
		}
	})
	return k
}

type nopCloser struct{ transport.TPM }

func (nopCloser) Close() error { return nil }

// Dial connects to the swtpm p, counting commands; at cleanup it closes the
// connection. swtpm serves one connection at a time.
func Dial(tb testing.TB, p *swtpm.Process) (*Transport, func()) {
	tb.Helper()
	conn, err := tpm.DialSwtpm(p.Address(), 30*time.Second)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return Count(conn), func() {
		if err := conn.Close(); err != nil {
			tb.Errorf("close swtpm connection: %v", err)
		}
	}
}
