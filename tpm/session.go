package tpm

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// keptSession is one salted HMAC session that stays open across sign-ins
// (Config.KeepSession), so a sign-in does not pay TPM2_StartAuthSession
// (an ECC point multiplication on a real chip) every time. It is the
// session Part 1 §19.6 describes: salted to the SRK, unbound, continueSession
// set, and decrypting the first command parameter with AES-128-CFB
// (Part 1 §21). go-tpm's reusable session binds one authValue for its
// life; this one takes the authValue of each command's key (setAuth), so
// every person's key is authorized through the same session, each with
// its own HMAC key (sessionKey ‖ authValue).
//
// On any failed command it is flushed and forgotten (CleanupFailure), and
// the next command opens a new one; a TPM that lost it (a resume, a
// restart of swtpm) answers with a session error before it checks the
// PIN, and the sign-in opens a new one and tries once more (signLocked).
type keptSession struct {
	// k gives the SRK to salt to, as it is when the session opens.
	k *TPM

	handle      tpm2.TPMHandle // tpm2.TPMRHNull when not open
	sessionKey  []byte
	nonceCaller tpm2.TPM2BNonce
	nonceTPM    tpm2.TPM2BNonce
	auth        []byte // the authValue of the key the next command uses
	// opened counts TPM2_StartAuthSession, for tests and the log.
	opened int
}

var _ tpm2.Session = (*keptSession)(nil)

const keptNonceSize = 16

const crypto256 = crypto.SHA256

func newKeptSession(k *TPM) *keptSession {
	return &keptSession{k: k, handle: tpm2.TPMRHNull}
}

func (s *keptSession) attrs() tpm2.TPMASession {
	return tpm2.TPMASession{ContinueSession: true, Decrypt: true}
}

// setAuth sets the authValue for the next command; nil after it.
func (s *keptSession) setAuth(auth []byte) { s.auth = auth }

// Init opens the session when it is not open.
func (s *keptSession) Init(t transport.TPM) error {
	if s.handle != tpm2.TPMRHNull {
		return nil
	}
	s.nonceCaller = tpm2.TPM2BNonce{Buffer: make([]byte, keptNonceSize)}
	if _, err := rand.Read(s.nonceCaller.Buffer); err != nil {
		return err
	}
	srkPub := s.k.srkPub
	key, err := tpm2.ImportEncapsulationKey(&srkPub)
	if err != nil {
		return err
	}
	salt, encSalt, err := tpm2.CreateEncryptedSalt(rand.Reader, key)
	if err != nil {
		return err
	}
	rsp, err := (tpm2.StartAuthSession{
		TPMKey:        s.k.srk.Handle,
		Bind:          tpm2.TPMRHNull,
		NonceCaller:   s.nonceCaller,
		EncryptedSalt: tpm2.TPM2BEncryptedSecret{Buffer: encSalt},
		SessionType:   tpm2.TPMSEHMAC,
		Symmetric: tpm2.TPMTSymDef{
			Algorithm: tpm2.TPMAlgAES,
			KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
			Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
		},
		AuthHash: tpm2.TPMAlgSHA256,
	}).Execute(t)
	if err != nil {
		clear(salt)
		return fmt.Errorf("TPM2_StartAuthSession: %w", err)
	}
	s.handle = tpm2.TPMHandle(rsp.SessionHandle.HandleValue())
	s.nonceTPM = rsp.NonceTPM
	// Part 1 §19.6.8: sessionKey = KDFa(authHash, bind auth ‖ salt, "ATH",
	// nonceTPM, nonceCaller, digest size); unbound, so the salt alone.
	s.sessionKey = tpm2.KDFa(crypto256, salt, "ATH", s.nonceTPM.Buffer, s.nonceCaller.Buffer, sha256.Size*8)
	clear(salt)
	s.opened++
	return nil
}

// CleanupFailure flushes the session after a failed command and forgets
// it: whatever the failure, the next command starts from a fresh one.
func (s *keptSession) CleanupFailure(t transport.TPM) error {
	s.forget(t)
	return nil
}

func (s *keptSession) forget(t transport.TPM) {
	if s.handle != tpm2.TPMRHNull && t != nil {
		// It may be gone already (that may be why the command failed):
		// logged, not an error of the command.
		if _, err := (tpm2.FlushContext{FlushHandle: s.handle}).Execute(t); err != nil {
			s.k.logf("tpm: TPM2_FlushContext of the kept session 0x%08x: %v", uint32(s.handle), err)
		}
	}
	s.handle = tpm2.TPMRHNull
	clear(s.sessionKey)
	s.sessionKey = nil
}

func (s *keptSession) NonceTPM() tpm2.TPM2BNonce { return s.nonceTPM }

func (s *keptSession) NewNonceCaller() error {
	_, err := rand.Read(s.nonceCaller.Buffer)
	return err
}

// hmacKey is sessionKey ‖ authValue without its trailing zeros (Part 1
// §19.6.5).
func (s *keptSession) hmacKey() []byte {
	auth := s.auth
	for len(auth) > 0 && auth[len(auth)-1] == 0 {
		auth = auth[:len(auth)-1]
	}
	return append(append([]byte(nil), s.sessionKey...), auth...)
}

func sessionHMAC(key, pHash, nonceNewer, nonceOlder, addNonces []byte, attrs tpm2.TPMASession) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(pHash)
	m.Write(nonceNewer)
	m.Write(nonceOlder)
	m.Write(addNonces)
	m.Write(tpm2.Marshal(attrs)) // the one byte of TPMA_SESSION
	return m.Sum(nil)
}

// Authorize computes the command's authorization HMAC (Part 1 §19.6.5):
// over cpHash = SHA-256(commandCode ‖ names ‖ parameters).
func (s *keptSession) Authorize(cc tpm2.TPMCC, parms, addNonces []byte, names []tpm2.TPM2BName, _ int) (*tpm2.TPMSAuthCommand, error) {
	if s.handle == tpm2.TPMRHNull {
		return nil, errors.New("session not open")
	}
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, cc)
	for _, n := range names {
		h.Write(n.Buffer)
	}
	h.Write(parms)
	key := s.hmacKey()
	defer clear(key)
	return &tpm2.TPMSAuthCommand{
		Handle:        s.handle,
		Nonce:         s.nonceCaller,
		Attributes:    s.attrs(),
		Authorization: tpm2.TPM2BData{Buffer: sessionHMAC(key, h.Sum(nil), s.nonceCaller.Buffer, s.nonceTPM.Buffer, addNonces, s.attrs())},
	}, nil
}

// Validate checks the response HMAC over rpHash = SHA-256(responseCode ‖
// commandCode ‖ parameters) and takes the TPM's new nonce.
func (s *keptSession) Validate(rc tpm2.TPMRC, cc tpm2.TPMCC, parms []byte, _ []tpm2.TPM2BName, _ int, auth *tpm2.TPMSAuthResponse) error {
	s.nonceTPM = auth.Nonce
	if !auth.Attributes.ContinueSession {
		s.handle = tpm2.TPMRHNull
	}
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, rc)
	_ = binary.Write(h, binary.BigEndian, cc)
	h.Write(parms)
	key := s.hmacKey()
	defer clear(key)
	if !hmac.Equal(sessionHMAC(key, h.Sum(nil), s.nonceTPM.Buffer, s.nonceCaller.Buffer, nil, auth.Attributes), auth.Authorization.Buffer) {
		return errors.New("incorrect authorization HMAC in the TPM's response")
	}
	return nil
}

func (s *keptSession) IsEncryption() bool { return false }
func (s *keptSession) IsDecryption() bool { return true }

// Encrypt encrypts the first command parameter in place with AES-128-CFB,
// key and IV from KDFa(sessionKey ‖ authValue, "CFB", nonceCaller,
// nonceTPM) (Part 1 §21.4).
func (s *keptSession) Encrypt(parameter []byte) error {
	value := append(append([]byte(nil), s.sessionKey...), s.auth...)
	defer clear(value)
	keyIV := tpm2.KDFa(crypto256, value, "CFB", s.nonceCaller.Buffer, s.nonceTPM.Buffer, (16+16)*8)
	defer clear(keyIV)
	block, err := aes.NewCipher(keyIV[:16])
	if err != nil {
		return err
	}
	cipher.NewCFBEncrypter(block, keyIV[16:]).XORKeyStream(parameter, parameter)
	return nil
}

func (s *keptSession) Decrypt([]byte) error { return nil }

func (s *keptSession) Handle() tpm2.TPMHandle { return s.handle }

// sessionLost reports a failure that says the TPM no longer has the
// session (Part 2 §6.6.3: a session handle that references nothing),
// which comes before any authorization check, so it costs no PIN try.
func sessionLost(err error) bool {
	return errors.Is(err, tpm2.TPMRCReferenceS0) || errors.Is(err, tpm2.TPMRCHandle) && isSessionError(err)
}

// isSessionError: a format-1 response code about a session (Part 2
// §6.6.3).
func isSessionError(err error) bool {
	var fe tpm2.TPMFmt1Error
	if errors.As(err, &fe) {
		ok, _ := fe.Session()
		return ok
	}
	return false
}
