package softkey_test

import (
	"bytes"
	"testing"

	"passkiosk/fido"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
)

func TestGetInfoDescribesTheKey(t *testing.T) {
	for _, fp := range []bool{false, true} {
		r := newRig(t, softkey.Config{Fingerprint: fp, PIN: testPIN})
		if r.c.Caps&0x04 == 0 || r.c.Caps&0x08 == 0 {
			t.Errorf("INIT capabilities 0x%02x lack CBOR or NMSG", r.c.Caps)
		}
		in, err := r.c.GetInfo(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(in.AAGUID, softkey.DefaultAAGUID[:]) {
			t.Errorf("AAGUID %x", in.AAGUID)
		}
		if len(in.Versions) != 2 || in.Versions[1] != "FIDO_2_1" {
			t.Errorf("versions %v", in.Versions)
		}
		if len(in.PINProtocols) != 2 || in.PINProtocols[0] != 2 || in.PINProtocols[1] != 1 {
			t.Errorf("pinUvAuthProtocols %v", in.PINProtocols)
		}
		for _, o := range []string{"rk", "up", "clientPin", "pinUvAuthToken", "makeCredUvNotRqd"} {
			if !in.Options[o] {
				t.Errorf("option %s not true: %v", o, in.Options)
			}
		}
		if uv, ok := in.Options["uv"]; ok != fp || uv != fp {
			t.Errorf("fingerprint %v: uv option %v present %v", fp, uv, ok)
		}
		if in.MinPINLength != 4 || in.MaxMsgSize != softkey.MaxMessage {
			t.Errorf("minPINLength %d maxMsgSize %d", in.MinPINLength, in.MaxMsgSize)
		}
	}
}

// TestEnrollAndSignInWithPIN is the appliance's main path, for both PIN/UV
// auth protocols: set a PIN, enroll a discoverable credential with a PIN
// token, sign in with it, and check every result as the relying party.
func TestEnrollAndSignInWithPIN(t *testing.T) {
	for _, proto := range []int{1, 2} {
		r := newRig(t, softkey.Config{})
		if err := r.c.SetPIN(ctx(t), proto, testPIN); err != nil {
			t.Fatalf("protocol %d: setPIN: %v", proto, err)
		}
		if !r.key.PINSet() {
			t.Fatal("PIN not set")
		}
		tok, err := r.c.PINToken(ctx(t), proto, testPIN, softkey.PermMakeCredential, testRP)
		if err != nil {
			t.Fatalf("protocol %d: token: %v", proto, err)
		}
		reg := r.register(host.MakeCredentialArgs{
			RK: true, Token: tok, UserID: []byte("nurse-17"), UserName: "jdoe", DisplayName: "J. Doe",
		}, true)
		if !reg.Trusted || reg.Format != "packed" || reg.AAGUID != softkey.DefaultAAGUID {
			t.Errorf("registration %+v", reg)
		}
		if reg.Flags&fido.FlagUV == 0 {
			t.Error("UV flag not set after PIN token")
		}
		tok, err = r.c.PINToken(ctx(t), proto, testPIN, softkey.PermGetAssertion, testRP)
		if err != nil {
			t.Fatal(err)
		}
		cred := stored(reg)
		as, res, err := r.assert(host.GetAssertionArgs{Token: tok}, cred, true)
		if err != nil {
			t.Fatalf("protocol %d: assertion: %v", proto, err)
		}
		if as.User == nil || string(as.User.ID) != "nurse-17" || as.User.Name != "jdoe" || as.User.DisplayName != "J. Doe" {
			t.Errorf("user %+v", as.User)
		}
		if res.Counter <= reg.Counter || res.Flags&fido.FlagUP == 0 {
			t.Errorf("counter %d after %d, flags %v", res.Counter, reg.Counter, res.Flags)
		}
	}
}
