package kiosk

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorIsMatchesKindThroughWrapping(t *testing.T) {
	base := WithTries(KindPINInvalid, "get pin token", 2, errors.New("CTAP2_ERR_PIN_INVALID"))
	wrapped := fmt.Errorf("sign in: %w", base)
	if !errors.Is(wrapped, ErrPINInvalid) {
		t.Fatalf("errors.Is(%v, ErrPINInvalid) = false", wrapped)
	}
	if errors.Is(wrapped, ErrPINBlocked) {
		t.Fatalf("errors.Is matched a different kind")
	}
	if got := KindOf(wrapped); got != KindPINInvalid {
		t.Fatalf("KindOf = %v", got)
	}
	if got := TriesLeft(wrapped); got != 2 {
		t.Fatalf("TriesLeft = %d", got)
	}
	want := "sign in: get pin token: pin-invalid: CTAP2_ERR_PIN_INVALID (2 tries left)"
	if wrapped.Error() != want {
		t.Fatalf("Error() = %q, want %q", wrapped.Error(), want)
	}
}

func TestKindOfPlainErrorIsUnknown(t *testing.T) {
	if KindOf(errors.New("x")) != KindUnknown || TriesLeft(errors.New("x")) != -1 {
		t.Fatal("plain errors must have no kind and no tries")
	}
}

func TestEveryKindHasAName(t *testing.T) {
	for k := Kind(0); k < 100; k++ {
		if _, ok := kindNames[k]; ok && k.String() == "" {
			t.Fatalf("kind %d has an empty name", k)
		}
	}
	if Kind(99).String() != "kind(99)" {
		t.Fatalf("unnamed kind prints %q", Kind(99).String())
	}
}
