// Package fidotest loads the WebAuthn conformance vectors kept beside the
// project (../shared/conformance/webauthn) behind a typed loader, for the
// fido tests, fuzz seeds and benchmarks.
package fidotest

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// EnvDir overrides where the vectors are read from.
const EnvDir = "PASSKIOSK_CONFORMANCE_DIR"

// Hex is a byte string written as lowercase hex in the vector files.
type Hex []byte

func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

// Vector is one conformance case.
type Vector struct {
	File string `json:"-"`
	ID   string `json:"id"`
	Kind string `json:"kind"` // registration | authentication | trust_anchor
	Fmt  string `json:"format"`
	Alg  int64  `json:"credential_alg"`
	RP   struct {
		ID        string `json:"rpId"`
		Origin    string `json:"origin"`
		Challenge Hex    `json:"challenge_hex"`
		// ChallengeLiteral is a challenge given as text instead (the
		// wrong-challenge vector).
		ChallengeLiteral string `json:"challenge_literal"`
	} `json:"relying_party"`
	ClientDataJSON    Hex `json:"clientDataJSON"`
	AttestationObject Hex `json:"attestationObject"`
	AuthenticatorData Hex `json:"authenticatorData"`
	Signature         Hex `json:"signature"`
	Credential        struct {
		ID             Hex    `json:"credentialId_hex"`
		PublicKey      Hex    `json:"credentialPublicKey_cose_hex"`
		Counter        uint32 `json:"stored_signCount"`
		BackupEligible *bool  `json:"backupEligible"`
	} `json:"credential"`
	// Summary is the vector's decoded authenticator data. The README calls
	// it a reading aid, not an input: tests use it only as the expected
	// value of what verification extracts.
	Summary struct {
		UV bool `json:"UV"`
		BE bool `json:"BE"`
		// AAGUID, CredentialID and PublicKey are the attested credential
		// data of a registration; absent from assertions.
		AAGUID       Hex `json:"aaguid"`
		CredentialID Hex `json:"credentialId_hex"`
		PublicKey    Hex `json:"credentialPublicKey_cose_hex"`
	} `json:"authenticatorData_summary"`
	CACert   Hex `json:"attestation_ca_cert_der"`
	Expected struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"expected"`
}

// ExpectedChallenge is the challenge the relying party issued. The kiosk
// only issues 32-byte challenges; a literal challenge is placed in one,
// zero-padded, which keeps it different from any real challenge.
func (v *Vector) ExpectedChallenge() [32]byte {
	var c [32]byte
	if v.RP.ChallengeLiteral != "" {
		copy(c[:], v.RP.ChallengeLiteral)
		return c
	}
	copy(c[:], v.RP.Challenge)
	return c
}

// Valid reports whether the vector's verdict is "valid".
func (v *Vector) Valid() bool { return v.Expected.Result == "valid" }

// Invalid reports whether the vector's verdict starts with "invalid"
// ("invalid (for a kiosk RP that does not expect iframe use)" included).
func (v *Vector) Invalid() bool { return strings.HasPrefix(v.Expected.Result, "invalid") }

// Dir returns the vectors folder: $PASSKIOSK_CONFORMANCE_DIR, or
// shared/conformance/webauthn beside the repository. ok is false when it
// does not exist.
func Dir() (string, bool) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		_, self, _, _ := runtime.Caller(0)
		// self is <repo>/fido/fidotest/vectors.go; shared/ sits beside <repo>.
		dir = filepath.Join(filepath.Dir(self), "..", "..", "..", "shared", "conformance", "webauthn")
	}
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Load reads every *.json vector in dir, in file-name order.
func Load(dir string) ([]*Vector, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*Vector
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		v := &Vector{File: filepath.Base(f)}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, &os.PathError{Op: "parse vector", Path: f, Err: err}
		}
		out = append(out, v)
	}
	return out, nil
}
