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
