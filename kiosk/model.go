package kiosk

import "time"

// UserID identifies a person in the appliance's records. It is also the
// WebAuthn user handle of their credentials.
type UserID string

// User is a person who may sign in at this terminal.
type User struct {
	ID          UserID
	Name        string // sign-in name, unique, what a person types
	DisplayName string // what the screen shows
	Groups      []string
	Disabled    bool
	Created     time.Time
}

// Attachment says where a credential lives (WebAuthn
// authenticatorAttachment).
type Attachment uint8

const (
	AttachPlatform Attachment = 1 // in this machine's TPM
	AttachRoaming  Attachment = 2 // on a USB security key
)

func (a Attachment) String() string {
	switch a {
	case AttachPlatform:
		return "platform"
	case AttachRoaming:
		return "roaming"
	}
	return "unknown"
}

// Credential is a registered passkey.
type Credential struct {
	ID             []byte
	User           UserID
	Attachment     Attachment
	PublicKey      []byte // COSE_Key
	Counter        uint32
	AAGUID         [16]byte
	BackupEligible bool
	Label          string // "Security key", "This terminal", or what the person named it
	Format         string // attestation statement format at registration
	Created        time.Time
	LastUsed       time.Time
	// TPMPublic and TPMPrivate are the key blobs of a platform credential;
	// the private blob is sealed to this machine's TPM.
	TPMPublic  []byte
	TPMPrivate []byte
}
