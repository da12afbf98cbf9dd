package tpm

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// scripted answers each command with the next response code of its
// script, then with success.
type scripted struct {
	codes []tpm2.TPMRC
	sent  int
}

func (s *scripted) Send([]byte) ([]byte, error) {
	rc := tpm2.TPMRCSuccess
	if s.sent < len(s.codes) {
		rc = s.codes[s.sent]
	}
	s.sent++
	rsp := make([]byte, headerSize)
	binary.BigEndian.PutUint16(rsp, uint16(tpm2.TPMSTNoSessions))
	binary.BigEndian.PutUint32(rsp[2:], headerSize)
	binary.BigEndian.PutUint32(rsp[6:], uint32(rc))
	return rsp, nil
}

func repeat(rc tpm2.TPMRC, n int) []tpm2.TPMRC {
	out := make([]tpm2.TPMRC, n)
	for i := range out {
		out[i] = rc
	}
	return out
}

// fullBackoff is the eleven waits between twelve attempts.
var fullBackoff = []time.Duration{
	1 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond,
	16 * time.Millisecond, 32 * time.Millisecond, 64 * time.Millisecond, 128 * time.Millisecond,
	250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond,
}

// The retry loop re-sends exactly the three "not executed" warnings, backs
// off from 1 ms doubling to 250 ms, and gives up after twelve attempts,
// about a second in all, returning the TPM's last answer.
func TestRetryingTPMResendsOnlyNotExecutedWarningsAndGivesUp(t *testing.T) {
	tests := []struct {
		name   string
		codes  []tpm2.TPMRC
		sends  int
		final  tpm2.TPMRC
		sleeps []time.Duration
	}{
		{"TPM_RC_RETRY once", []tpm2.TPMRC{tpm2.TPMRCRetry}, 2, tpm2.TPMRCSuccess, []time.Duration{time.Millisecond}},
		{"TPM_RC_TESTING twice", repeat(tpm2.TPMRCTesting, 2), 3, tpm2.TPMRCSuccess,
			[]time.Duration{time.Millisecond, 2 * time.Millisecond}},
		{"TPM_RC_YIELDED then TPM_RC_RETRY", []tpm2.TPMRC{tpm2.TPMRCYielded, tpm2.TPMRCRetry}, 3, tpm2.TPMRCSuccess,
			[]time.Duration{time.Millisecond, 2 * time.Millisecond}},
		{"wrong PIN is not retried", []tpm2.TPMRC{tpm2.TPMRCBadAuth}, 1, tpm2.TPMRCBadAuth, nil},
		{"NV rate limit is not retried", []tpm2.TPMRC{tpm2.TPMRCNVRate}, 1, tpm2.TPMRCNVRate, nil},
		{"give up after twelve", repeat(tpm2.TPMRCRetry, 100), 12, tpm2.TPMRCRetry, fullBackoff},
		{"succeeds on the twelfth", repeat(tpm2.TPMRCYielded, 11), 12, tpm2.TPMRCSuccess, fullBackoff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{codes: tc.codes}
			var slept []time.Duration
			r := &retryingTPM{next: s, attempts: 12, sleep: func(d time.Duration) { slept = append(slept, d) }}
			rsp, err := r.Send(make([]byte, headerSize))
			if err != nil {
				t.Fatal(err)
			}
			if rc, _ := responseCode(rsp); rc != tc.final {
				t.Errorf("final response %v, want %v", rc, tc.final)
			}
			if s.sent != tc.sends {
				t.Errorf("sent %d times, want %d", s.sent, tc.sends)
			}
			want := tc.sleeps
			if len(slept) != len(want) {
				t.Fatalf("slept %v, want %v", slept, want)
			}
			var total time.Duration
			for i := range want {
				if slept[i] != want[i] {
					t.Fatalf("slept %v, want %v", slept, want)
				}
				total += slept[i]
			}
			if total > 1100*time.Millisecond {
				t.Errorf("waited %v in all, more than about a second", total)
			}
		})
	}
}
