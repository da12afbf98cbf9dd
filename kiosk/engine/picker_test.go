package engine

import (
	"testing"

	"passkiosk/kiosk"
)

// The account picker names accounts from the appliance's records for each
// credential, not from what the key sends (the user name on a key is not
// signed): a key that calls bob's account "alice" still shows bob.
func TestPickerShowsNamesFromTheRecordsNotFromTheKey(t *testing.T) {
	h := newHarness(t)
	k := newKey("shared", "4821", false)
	h.enrollKey(k, alice, "C1")
	h.enrollKey(k, bob, "C2")
	k.RenameAccount(0, "bob")
	k.RenameAccount(1, "alice")
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	v := h.waitPrompt(kiosk.PromptChooseAccount)
	got := map[string]string{}
	for _, a := range v.Accounts {
		got[a.DisplayName] = a.Name
	}
	if len(got) != 2 || got[alice.DisplayName] != alice.Name || got[bob.DisplayName] != bob.Name {
		t.Fatalf("picker shows %+v, want each person's own user name from the records", v.Accounts)
	}
}

// Accounts on the key that are not registered here are left off the
// picker, and the picker says how many there are, so a person who does
// not find themselves knows why.
func TestPickerSaysHowManyAccountsAreNotRegisteredHere(t *testing.T) {
	h := newHarness(t)
	k := newKey("shared", "4821", false)
	carol := kiosk.User{ID: "u-carol", Name: "carol", DisplayName: "Carol Clerk"}
	h.store.AddUser(carol)
	h.enrollKey(k, alice, "C1")
	h.enrollKey(k, bob, "C2")
	h.enrollKey(k, carol, "C3")
	creds, _ := h.store.Credentials(carol.ID)
	h.store.RemoveCredential(creds[0].ID) // revoked here; the key still holds it
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte("4821"))
	v := h.waitPrompt(kiosk.PromptChooseAccount)
	if len(v.Accounts) != 2 || v.UnknownAccounts != 1 {
		t.Fatalf("picker: %d accounts, %d not registered here; want 2 and 1", len(v.Accounts), v.UnknownAccounts)
	}
	h.e.Cancel()
	if v := h.waitPrompt(kiosk.PromptTouchOrChoose); v.UnknownAccounts != 0 {
		t.Fatalf("lock screen still counts unknown accounts: %d", v.UnknownAccounts)
	}
}
