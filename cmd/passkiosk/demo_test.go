package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// The demo empties only a folder it made itself: a mistyped --state-dir
// pointing at real state is refused and loses nothing.
func TestFreshDemoDirEmptiesOnlyItsOwnFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo-state")
	if err := freshDemoDir(dir); err != nil {
		t.Fatalf("new folder: %v", err)
	}
	old := filepath.Join(dir, "passkiosk.db")
	if err := os.WriteFile(old, []byte("last run"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := freshDemoDir(dir); err != nil {
		t.Fatalf("the demo's own folder: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("last run's database still there: %v", err)
	}

	real := t.TempDir()
	db := filepath.Join(real, "passkiosk.db")
	if err := os.WriteFile(db, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := freshDemoDir(real); err == nil {
		t.Fatal("a folder with someone else's files was accepted")
	}
	if b, err := os.ReadFile(db); err != nil || string(b) != "precious" {
		t.Fatalf("refused folder changed: %q, %v", b, err)
	}

	empty := t.TempDir()
	if err := freshDemoDir(empty); err != nil {
		t.Fatalf("an empty folder: %v", err)
	}
}

// A locale without a translation ("C", or a language not shipped) shows
// English instead of stopping the appliance.
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
