package ui

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passkiosk/kiosk"
	"passkiosk/ui/i18n"
)

// noticeCodes counts the NoticeCode constants kiosk declares (besides
// NoticeNone) by reading its source, so a code added there without a
// string here fails this test rather than showing "Something went wrong".
func noticeCodes(t *testing.T) kiosk.NoticeCode {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "kiosk", "view.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST || len(g.Specs) == 0 {
			continue
		}
		if id, ok := g.Specs[0].(*ast.ValueSpec).Type.(*ast.Ident); ok && id.Name == "NoticeCode" {
			return kiosk.NoticeCode(len(g.Specs) - 1)
		}
	}
	t.Fatal("no NoticeCode constants in kiosk/view.go")
	return 0
}

// TestEveryNoticeHasAStringInEveryLanguage says every notice, with and
// without its facts, in every language, and checks nothing is missing.
func TestEveryNoticeHasAStringInEveryLanguage(t *testing.T) {
	lastNotice := noticeCodes(t)
	if lastNotice < kiosk.NoticeOutOfHours {
		t.Fatalf("counted %d notice codes in kiosk/view.go, fewer than kiosk declares", lastNotice)
	}
	for c := kiosk.NoticeCode(1); c <= lastNotice; c++ {
		if _, ok := noticeKeys[c]; !ok {
			t.Errorf("notice %d has no translation key", c)
		}
	}
	for _, lang := range i18n.Languages() {
		u := &UI{tr: i18n.MustLoad(lang), opts: Options{HelpContact: "ext. 4357"}}
		for c := kiosk.NoticeCode(1); c <= lastNotice; c++ {
			for _, n := range []kiosk.Notice{
				{Code: c, Tries: -1},
				{Code: c, Tries: 0},
				{Code: c, Tries: 1},
				{Code: c, Tries: 3, Until: t0.Add(90 * time.Second), Detail: "a fact"},
			} {
				s := u.noticeText(&n, 4, t0)
				if s == "" || strings.Contains(s, "⟦") || strings.Contains(s, "%!") {
					t.Errorf("%s: notice %d %+v: %q", lang, c, n, s)
				}
			}
		}
	}
}

func TestNoticeSentences(t *testing.T) {
	u := &UI{tr: i18n.MustLoad("en"), opts: Options{HelpContact: "ext. 4357"}}
	for _, tc := range []struct {
		n    kiosk.Notice
		want string
	}{
		{kiosk.Notice{Code: kiosk.NoticeWrongPIN, Tries: 2}, "Wrong PIN. 2 tries left."},
		{kiosk.Notice{Code: kiosk.NoticeWrongPIN, Tries: 1}, "Wrong PIN. 1 try left."},
		{kiosk.Notice{Code: kiosk.NoticeWrongPIN, Tries: -1}, "Wrong PIN. Try again."},
		{kiosk.Notice{Code: kiosk.NoticeReplugKey, Tries: -1}, "Too many wrong PINs in a row. Unplug your security key and plug it in again."},
		{kiosk.Notice{Code: kiosk.NoticeKeyBlocked, Tries: 0}, "Your security key's PIN is blocked. Call IT on ext. 4357."},
		{kiosk.Notice{Code: kiosk.NoticeFingerprintFailed, Tries: 3}, "Fingerprint not recognised. 3 tries left."},
		{kiosk.Notice{Code: kiosk.NoticeFingerprintLocked, Tries: -1}, "Fingerprint locked — enter your PIN instead."},
		{kiosk.Notice{Code: kiosk.NoticeTooManyAttempts, Tries: -1, Until: t0.Add(75 * time.Second)}, "Too many failed attempts. Try again in 1:15."},
		{kiosk.Notice{Code: kiosk.NoticeTooManyAttempts, Tries: -1, Until: t0.Add(-time.Second)}, "Too many failed attempts. Please wait a moment."},
		{kiosk.Notice{Code: kiosk.NoticeNotAllowed, Tries: -1, Detail: "outside your shift hours"}, "You cannot sign in here right now: outside your shift hours."},
		{kiosk.Notice{Code: kiosk.NoticeNotAllowed, Kind: kiosk.KindNotFound, Tries: -1, Detail: "no passkey for that name on this terminal"},
			`There is no sign-in for that name on this terminal yet. Ask IT for an enrollment code, then press "I have an enrollment code".`},
		{kiosk.Notice{Code: kiosk.NoticePINTooShort, Tries: -1}, "That PIN is too short. Use at least 4 digits."},
		{kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: kiosk.EndIdle}, "Your session has ended: there was no activity for a while."},
		{kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: kiosk.EndTimeLimit}, "Your session has ended: the time allowed for a session is up."},
		{kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Detail: "power cut"}, "Your session has ended: power cut."},
		{kiosk.Notice{Code: kiosk.NoticeCode(250), Tries: -1}, "Something went wrong. Please start again."},
	} {
		if got := u.noticeText(&tc.n, 4, t0); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.n, got, tc.want)
		}
	}
	u.opts.HelpContact = ""
	if got := u.noticeText(&kiosk.Notice{Code: kiosk.NoticeKeyBlocked, Tries: 0}, 4, t0); got != "Your security key's PIN is blocked. Call IT." {
		t.Errorf("no contact: %q", got)
	}
}

func TestCountdown(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0:00"}, {-time.Second, "0:00"}, {time.Millisecond, "0:01"}, {59 * time.Second, "0:59"},
		{60 * time.Second, "1:00"}, {time.Hour - time.Second, "59:59"}, {time.Hour, "1:00:00"},
		{7*time.Hour + 30*time.Minute + 5*time.Second, "7:30:05"},
	} {
		if got := countdown(t0, t0.Add(tc.d)); got != tc.want {
			t.Errorf("countdown(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestSessionCausesAreTranslated(t *testing.T) {
	for _, lang := range i18n.Languages() {
		tr := i18n.MustLoad(lang)
		for cause, key := range sessionCauses {
			if !tr.Has(key) {
				t.Errorf("%s: no string for the session end cause %q", lang, cause)
			}
		}
	}
	de := &UI{tr: i18n.MustLoad("de")}
	if got := de.noticeText(&kiosk.Notice{Code: kiosk.NoticeSessionEnded, Tries: -1, Cause: kiosk.EndLogout}, 4, t0); got != "Ihre Sitzung wurde beendet: Sie haben sich abgemeldet." {
		t.Errorf("German: %q", got)
	}
}
