package main

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	serveDemoCheck()
	if walk := os.Getenv(windowChildEnv); walk != "" {
		os.Exit(windowChild(walk))
	}
	os.Exit(m.Run())
}

// A locale without a translation ("C", or a language not shipped) shows
// English instead of stopping the window.
func TestUILanguageFallsBackToEnglish(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct{ lcAll, lang, want string }{
		{"", "de_DE.UTF-8", "de_DE.UTF-8"},
		{"", "C", "en"},
		{"", "sw_KE.UTF-8", "en"},
		{"de_AT.UTF-8", "C", "de_AT.UTF-8"},
		{"", "", ""},
	} {
		t.Setenv("LC_ALL", tc.lcAll)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", tc.lang)
		if got := uiLanguage(log); got != tc.want {
			t.Errorf("LC_ALL=%q LANG=%q: %q, want %q", tc.lcAll, tc.lang, got, tc.want)
		}
	}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sessions as another user and tmpfs workspaces need root")
	}
}
