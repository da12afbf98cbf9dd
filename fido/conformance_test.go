package fido_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"passkiosk/fido"
	"passkiosk/fido/fidotest"
	"passkiosk/kiosk"
)

// wantKind is the check that must decide each negative vector, per its
// expected.reason.
var wantKind = map[string]kiosk.Kind{
	"w3c-crossorigin-assertion":  kiosk.KindClientData,
	"w3c-toporigin-registration": kiosk.KindClientData,
	"gw-neg-wrong-rpid":          kiosk.KindWrongRP,
	"gw-neg-wrong-challenge":     kiosk.KindChallenge,
	"gw-neg-wrong-public-key":    kiosk.KindBadSignature,
}

func loadVectors(t testing.TB) ([]*fidotest.Vector, *x509.CertPool) {
	t.Helper()
	dir, ok := fidotest.Dir()
	if !ok {
		t.Skipf("conformance vectors not found at %s; set %s to their folder", dir, fidotest.EnvDir)
	}
	vs, err := fidotest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatalf("no vectors in %s", dir)
	}
	pool := x509.NewCertPool()
	for _, v := range vs {
		if v.Kind == "trust_anchor" {
			cert, err := x509.ParseCertificate(v.CACert)
			if err != nil {
				t.Fatalf("%s: %v", v.File, err)
			}
			pool.AddCert(cert)
		}
	}
	return vs, pool
}

func registrationInput(v *fidotest.Vector, anchors *x509.CertPool) fido.RegistrationInput {
	return fido.RegistrationInput{
		RPID: v.RP.ID, Origin: v.RP.Origin, Challenge: v.ExpectedChallenge(),
		ClientDataJSON: v.ClientDataJSON, AttestationObject: v.AttestationObject,
		TrustAnchors: anchors,
	}
}

func assertionInput(v *fidotest.Vector) fido.AssertionInput {
	// Where a vector does not state the stored backup eligibility, the
	// credential record is taken to match the assertion's BE flag.
	be := len(v.AuthenticatorData) > 32 && fido.Flags(v.AuthenticatorData[32]).Has(fido.FlagBE)
	if v.Credential.BackupEligible != nil {
		be = *v.Credential.BackupEligible
	}
	return fido.AssertionInput{
		RPID: v.RP.ID, Origin: v.RP.Origin, Challenge: v.ExpectedChallenge(),
		Credential: fido.StoredCredential{
			ID: v.Credential.ID, PublicKey: v.Credential.PublicKey,
			Counter: v.Credential.Counter, BackupEligible: be,
		},
		CredentialID: v.Credential.ID, AuthData: v.AuthenticatorData,
		ClientDataJSON: v.ClientDataJSON, Signature: v.Signature,
	}
}

func TestConformanceVectors(t *testing.T) {
	vs, anchors := loadVectors(t)
	ran, sawLongCredID := 0, false
	for _, v := range vs {
		if v.Kind == "trust_anchor" {
			continue
		}
		ran++
		sawLongCredID = sawLongCredID || v.ID == longCredIDVector
		t.Run(v.File, func(t *testing.T) {
			if len(v.RP.Challenge) != 32 && v.RP.ChallengeLiteral == "" {
				t.Fatalf("challenge is %d bytes", len(v.RP.Challenge))
			}
			var err error
			var uv bool
			switch v.Kind {
			case "registration":
				var reg *fido.Registration
				reg, err = fido.VerifyRegistration(registrationInput(v, anchors))
				if err == nil {
					uv = reg.Flags.Has(fido.FlagUV)
					checkRegistration(t, v, reg)
				}
			case "authentication":
				var res *fido.AssertionResult
				res, err = fido.VerifyAssertion(assertionInput(v))
				if err == nil {
					uv = res.Flags.Has(fido.FlagUV)
				}
			default:
				t.Fatalf("unknown vector kind %q", v.Kind)
			}
			switch {
			case v.Valid() && err != nil:
				t.Fatalf("expected valid (%s), got %v", v.Expected.Reason, err)
			case v.Invalid() && err == nil:
				t.Fatalf("expected invalid (%s), verification passed", v.Expected.Reason)
			case v.Invalid():
				want, ok := wantKind[v.ID]
				if !ok {
					t.Fatalf("negative vector %s has no expected kind in this test's table", v.ID)
				}
				if got := kiosk.KindOf(err); got != want {
					t.Fatalf("rejected as %v (%v), want %v (%s)", got, err, want, v.Expected.Reason)
				}
			case !v.Valid():
				t.Fatalf("unknown verdict %q", v.Expected.Result)
			}
			if v.Valid() && !uv {
				checkUVRequired(t, v, anchors)
			}
		})
	}
	if ran < 20 {
		t.Fatalf("ran %d vectors, expected at least 20", ran)
	}
	if !sawLongCredID {
		t.Fatalf("vector %s is missing", longCredIDVector)
	}
}

// checkUVRequired: a valid vector without UV must be refused by a policy
// that requires user verification.
func checkUVRequired(t *testing.T, v *fidotest.Vector, anchors *x509.CertPool) {
	t.Helper()
	var err error
	if v.Kind == "registration" {
		in := registrationInput(v, anchors)
		in.RequireUV = true
		_, err = fido.VerifyRegistration(in)
	} else {
		in := assertionInput(v)
		in.RequireUV = true
		_, err = fido.VerifyAssertion(in)
	}
	if !errors.Is(err, kiosk.ErrUVMissing) {
		t.Fatalf("UV=0 vector under a UV-required policy: got %v, want uv-missing", err)
	}
}

// longCredIDVector has a credential ID of the largest length WebAuthn
// allows (§5.8.3: at most 1023 bytes).
const longCredIDVector = "w3c-long-credid-registration"

func checkRegistration(t *testing.T, v *fidotest.Vector, reg *fido.Registration) {
	t.Helper()
	// The attested credential data comes back as the vector states it.
	if len(v.Summary.AAGUID) != 16 || len(v.Summary.CredentialID) == 0 || len(v.Summary.PublicKey) == 0 {
		t.Fatalf("vector lacks authenticatorData_summary aaguid, credentialId_hex or credentialPublicKey_cose_hex")
	}
	if !bytes.Equal(reg.AAGUID[:], v.Summary.AAGUID) {
		t.Errorf("AAGUID %x, want %x", reg.AAGUID[:], []byte(v.Summary.AAGUID))
	}
	if !bytes.Equal(reg.CredentialID, v.Summary.CredentialID) {
		t.Errorf("credential ID differs from the vector's (%d bytes, want %d)", len(reg.CredentialID), len(v.Summary.CredentialID))
	}
	if !bytes.Equal(reg.PublicKey, v.Summary.PublicKey) {
		t.Errorf("public key differs from the vector's: %x", reg.PublicKey)
	}
	if v.ID == longCredIDVector && len(reg.CredentialID) != 1023 {
		t.Errorf("credential ID of %d bytes, want 1023", len(reg.CredentialID))
	}
	if reg.Format != v.Fmt {
		t.Errorf("format %q, want %q", reg.Format, v.Fmt)
	}
	if int64(reg.Alg) != v.Alg {
		t.Errorf("alg %v, want %d", reg.Alg, v.Alg)
	}
	hasX5C := v.Fmt == "tpm" || v.Fmt == "fido-u2f" || (v.Fmt == "packed" && v.ID != "w3c-packed-self-es256-registration")
	if hasX5C != reg.Trusted {
		t.Errorf("trusted = %v (type %s), want %v", reg.Trusted, reg.Type, hasX5C)
	}
	if v.ID == "w3c-packed-self-es256-registration" && reg.Type != fido.AttestationSelf {
		t.Errorf("type %s, want self", reg.Type)
	}
	if v.Fmt == "none" && reg.Type != fido.AttestationNone {
		t.Errorf("type %s, want none", reg.Type)
	}
}

// A policy that requires trusted attestation accepts the x5c vectors and
// refuses none and self attestation.
func TestConformanceRequireTrustedAttestation(t *testing.T) {
	vs, anchors := loadVectors(t)
	for _, v := range vs {
		if v.Kind != "registration" || !v.Valid() {
			continue
		}
		in := registrationInput(v, anchors)
		in.RequireTrustedAttestation = true
		reg, err := fido.VerifyRegistration(in)
		x5c := v.Fmt != "none" && v.ID != "w3c-packed-self-es256-registration"
		if x5c && err != nil {
			t.Errorf("%s: %v", v.File, err)
		}
		if !x5c && !errors.Is(err, kiosk.ErrUntrustedAttestation) {
			t.Errorf("%s: got %v, %v; want untrusted-attestation", v.File, reg, err)
		}
		// Without anchors nothing is trusted.
		in.TrustAnchors = nil
		if _, err := fido.VerifyRegistration(in); !errors.Is(err, kiosk.ErrUntrustedAttestation) {
			t.Errorf("%s without anchors: got %v, want untrusted-attestation", v.File, err)
		}
	}
}

// TestConformanceCertificatesCheckedAtNow: the vectors' attestation
// certificates are valid at the wall clock; at a Now before or after their
// validity every x5c format (packed, tpm, fido-u2f) is refused, with or
// without trust anchors.
func TestConformanceCertificatesCheckedAtNow(t *testing.T) {
	vs, anchors := loadVectors(t)
	checked := map[string]bool{}
	for _, v := range vs {
		if v.Kind != "registration" || !v.Valid() {
			continue
		}
		reg, err := fido.VerifyRegistration(registrationInput(v, anchors))
		if err != nil {
			t.Fatalf("%s: %v", v.File, err)
		}
		if len(reg.Chain) == 0 {
			continue // no x5c: nothing dated to check
		}
		checked[v.Fmt] = true
		leaf := reg.Chain[0]
		for _, now := range []time.Time{leaf.NotBefore.Add(-time.Hour), leaf.NotAfter.Add(time.Hour)} {
			for _, pool := range []*x509.CertPool{anchors, nil} {
				in := registrationInput(v, pool)
				in.Now = now
				if _, err := fido.VerifyRegistration(in); !errors.Is(err, kiosk.ErrBadAttestation) {
					t.Errorf("%s at %s (anchors %v): got %v, want bad-attestation", v.File, now, pool != nil, err)
				}
			}
		}
		in := registrationInput(v, anchors)
		in.Now = leaf.NotBefore.Add(time.Hour)
		if reg, err := fido.VerifyRegistration(in); err != nil || !reg.Trusted {
			t.Errorf("%s at %s, inside its validity: %v", v.File, in.Now, err)
		}
	}
	for _, f := range []string{"packed", "tpm", "fido-u2f"} {
		if !checked[f] {
			t.Errorf("no %s vector with x5c was checked", f)
		}
	}
}
