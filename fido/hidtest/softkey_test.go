package hidtest

import (
	"encoding/hex"
	"strings"
	"testing"

	"passkiosk/fido/softkey"
)

func plugSoftkey(t *testing.T, b *Testbed, cfg softkey.Config) (*softkey.Key, *Device) {
	t.Helper()
	k, err := softkey.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Plug(k.Plug(), Identity{})
	if err != nil {
		t.Fatal(err)
	}
	return k, d
}

func TestFido2TokenListsAndDescribesSoftkey(t *testing.T) {
	b := New(t)
	k, d := plugSoftkey(t, b, softkey.Config{PIN: "1234", Fingerprint: true})
	if list := runTool(t, b, "fido2-token", "-L"); !strings.Contains(list, d.Path()) {
		t.Fatalf("fido2-token -L does not list the virtual key:\n%s", list)
	}
	info := runTool(t, b, "fido2-token", "-I", d.Path())
	aaguid := k.AAGUID()
	for _, want := range []string{
		"FIDO_2_1",
		"aaguid: " + hex.EncodeToString(aaguid[:]),
		"clientPin", "pinUvAuthToken", "uv",
		"pin retries: 8",
		"uv retries: 5",
	} {
		if !strings.Contains(info, want) {
			t.Fatalf("fido2-token -I lacks %q:\n%s", want, info)
		}
	}
}
