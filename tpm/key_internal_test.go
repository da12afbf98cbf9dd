package tpm

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// authValue must never contain a zero byte (see its comment), must be 32
// bytes, and must differ between salts for the same PIN.
func TestAuthValueHasNoZeroBytesAndDependsOnSalt(t *testing.T) {
	salt := make([]byte, saltSize)
	for i := 0; i < 5000; i++ {
		if _, err := rand.Read(salt); err != nil {
			t.Fatal(err)
		}
		v := authValue(salt, []byte("123456"))
		if len(v) != 32 || bytes.IndexByte(v, 0) >= 0 {
			t.Fatalf("authValue %x: length %d or zero byte", v, len(v))
		}
	}
	a := authValue([]byte("salt-one-16bytes"), []byte("123456"))
	b := authValue([]byte("salt-two-16bytes"), []byte("123456"))
	c := authValue([]byte("salt-one-16bytes"), []byte("123457"))
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Error("authValue ignores its salt or PIN")
	}
}

func TestLockoutStateArithmetic(t *testing.T) {
	tests := []struct {
		s     LockoutState
		tries int
		after string
	}{
		{LockoutState{Failures: 0, MaxTries: 32, Interval: 7200e9}, 32, "0s"},
		{LockoutState{Failures: 31, MaxTries: 32, Interval: 7200e9}, 1, "0s"},
		{LockoutState{Failures: 32, MaxTries: 32, Interval: 7200e9}, 0, "2h0m0s"},
		{LockoutState{Failures: 3, MaxTries: 32, Interval: 600e9, InLockout: true}, 0, "10m0s"},
		{LockoutState{Failures: 40, MaxTries: 32}, 0, "0s"},
	}
	for _, tc := range tests {
		if got := tc.s.TriesLeft(); got != tc.tries {
			t.Errorf("%+v: TriesLeft %d, want %d", tc.s, got, tc.tries)
		}
		if got := tc.s.RetryAfter().String(); got != tc.after {
			t.Errorf("%+v: RetryAfter %s, want %s", tc.s, got, tc.after)
		}
	}
}

func TestDeviceReasonsNameTheCause(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: "/dev/tpmrm0", Err: syscall.ENOENT}, "does not exist"},
		{&fs.PathError{Op: "open", Path: "/dev/tpmrm0", Err: syscall.EACCES}, "group tss"},
		{&fs.PathError{Op: "open", Path: "/dev/tpm0", Err: syscall.EBUSY}, "busy"},
		{errors.New("something else"), "something else"},
	}
	for _, tc := range tests {
		if got := deviceReason("/dev/tpmrm0", tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("deviceReason(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
}
