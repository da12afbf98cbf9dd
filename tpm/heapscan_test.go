package tpm_test

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"passkiosk/fido"
	"passkiosk/kiosk"
	"passkiosk/tpm"
	"passkiosk/tpm/tpmtest"
)

// pinMask hides the PIN from the scan while the test holds it: only
// masked bytes are kept, and the comparison unmasks one byte at a time,
// so the test itself never leaves the PIN in memory.
const pinMask = 0xA5

// findMasked reads every private writable mapping of this process (the Go
// heap and goroutine stacks, cgo's malloc arenas) through /proc/self/mem
// and returns where masked, unmasked, occurs, or "".
func findMasked(t *testing.T, masked []byte) string {
	t.Helper()
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	defer maps.Close()
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Skipf("no /proc/self/mem: %v", err)
	}
	defer mem.Close()
	buf := make([]byte, 1<<20)
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.HasPrefix(f[1], "rw") || (len(f) >= 6 && !strings.HasPrefix(f[5], "[")) {
			continue // not writable, or a file's data
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		for off := start; off < end; {
			n := min(uint64(len(buf)), end-off)
			got, err := mem.ReadAt(buf[:n], int64(off))
			if got == 0 || err != nil && got == 0 {
				break
			}
			// Overlap chunks by the pattern's length.
			for i := 0; i+len(masked) <= got; i++ {
				j := 0
				for j < len(masked) && buf[i+j]^pinMask == masked[j] {
					j++
				}
				if j == len(masked) {
					clear(buf)
					return fmt.Sprintf("%s at 0x%x", strings.Join(f[5:], " "), off+uint64(i))
				}
			}
			step := uint64(got)
			if step > uint64(len(masked)) && off+step < end {
				step -= uint64(len(masked))
			}
			off += step
		}
	}
	clear(buf)
	return ""
}

// plantedPIN holds the scan's own check on the heap.
var plantedPIN []byte

// unmaskInto writes the PIN into a fresh slice for one call; the caller
// wipes it, as the engine does with what the PIN pad handed over.
func unmaskInto(masked []byte) []byte {
	p := make([]byte, len(masked))
	for i, b := range masked {
		p[i] = b ^ pinMask
	}
	return p
}

// After an enrollment, a wrong PIN and a sign-in through the engine's port
// (tpm.Platform) on a real swtpm, with every PIN slice wiped by its owner
// as the engine wipes it, no copy of the PIN is left anywhere in the
// process's writable memory. The PIN is a fresh random 10-digit one, so a
// hit cannot be anything else.
func TestNoPINLeftInMemoryAfterSignIn(t *testing.T) {
	s := tpmtest.StartSwtpm(t)
	k, err := tpm.Open(tpm.Config{Transport: tpm.TransportSwtpm, Swtpm: s.Address(), KeepSession: true})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	p := tpm.NewPlatform(k, nil)

	masked := make([]byte, 10)
	if _, err := rand.Read(masked); err != nil {
		t.Fatal(err)
	}
	for i := range masked {
		masked[i] = ('0' + masked[i]%10) ^ pinMask
	}

	// The scan finds a PIN that is there.
	plantedPIN = unmaskInto(masked)
	if where := findMasked(t, masked); where == "" {
		t.Fatal("the scan does not find a PIN planted in the heap")
	}
	clear(plantedPIN)

	c := newCeremony(t, fido.TypeCreate)
	pin := unmaskInto(masked)
	en, err := p.Enroll(ctx, rpID, nil, c.hash, pin)
	clear(pin)
	if err != nil {
		t.Fatal(err)
	}
	id, err := tpm.CredentialID(mustBlobs(t, en.TPMPublic, en.TPMPrivate))
	if err != nil {
		t.Fatal(err)
	}
	cred := kiosk.Credential{ID: id, TPMPublic: en.TPMPublic, TPMPrivate: en.TPMPrivate}
	wrong := []byte("0000000000")
	if _, _, err := p.Assert(ctx, cred, rpID, c.hash, wrong); kiosk.KindOf(err) != kiosk.KindPINInvalid {
		t.Fatalf("wrong PIN: %v", err)
	}
	pin = unmaskInto(masked)
	_, _, err = p.Assert(ctx, cred, rpID, c.hash, pin)
	clear(pin)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if where := findMasked(t, masked); where != "" {
		t.Fatalf("the PIN is still in memory after sign-in: %s", where)
	}
}

func mustBlobs(t *testing.T, pub, priv []byte) *tpm.KeyBlobs {
	t.Helper()
	b, err := tpm.FromStoredForm(pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
