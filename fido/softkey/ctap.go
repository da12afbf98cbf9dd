package softkey

import "fmt"

// CTAP2 command bytes (CTAP 2.1 §6).
const (
	cmdMakeCredential   = 0x01
	cmdGetAssertion     = 0x02
	cmdGetInfo          = 0x04
	cmdClientPIN        = 0x06
	cmdReset            = 0x07
	cmdGetNextAssertion = 0x08
	cmdSelection        = 0x0b
)

// Status is a CTAP2 status code (CTAP 2.1 §8.2 "Status codes"). It is the
// first byte of every CTAPHID_CBOR response.
type Status byte

const (
	StatusOK                     Status = 0x00
	StatusInvalidCommand         Status = 0x01
	StatusInvalidParameter       Status = 0x02
	StatusInvalidLength          Status = 0x03
	StatusCBORUnexpectedType     Status = 0x11
	StatusInvalidCBOR            Status = 0x12
	StatusMissingParameter       Status = 0x14
	StatusLimitExceeded          Status = 0x15
	StatusCredentialExcluded     Status = 0x19
	StatusUnsupportedAlg         Status = 0x26
	StatusOperationDenied        Status = 0x27
	StatusKeyStoreFull           Status = 0x28
	StatusUnsupportedOption      Status = 0x2b
	StatusInvalidOption          Status = 0x2c
	StatusKeepaliveCancel        Status = 0x2d
	StatusNoCredentials          Status = 0x2e
	StatusUserActionTimeout      Status = 0x2f
	StatusNotAllowed             Status = 0x30
	StatusPINInvalid             Status = 0x31
	StatusPINBlocked             Status = 0x32
	StatusPINAuthInvalid         Status = 0x33
	StatusPINAuthBlocked         Status = 0x34
	StatusPINNotSet              Status = 0x35
	StatusPUATRequired           Status = 0x36
	StatusPINPolicyViolation     Status = 0x37
	StatusRequestTooLarge        Status = 0x39
	StatusUVBlocked              Status = 0x3c
	StatusInvalidSubcommand      Status = 0x3e
	StatusUVInvalid              Status = 0x3f
	StatusUnauthorizedPermission Status = 0x40
	StatusOther                  Status = 0x7f
)

var statusNames = map[Status]string{
	StatusOK:                     "CTAP2_OK",
	StatusInvalidCommand:         "CTAP1_ERR_INVALID_COMMAND",
	StatusInvalidParameter:       "CTAP1_ERR_INVALID_PARAMETER",
	StatusInvalidLength:          "CTAP1_ERR_INVALID_LENGTH",
	StatusCBORUnexpectedType:     "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
	StatusInvalidCBOR:            "CTAP2_ERR_INVALID_CBOR",
	StatusMissingParameter:       "CTAP2_ERR_MISSING_PARAMETER",
	StatusLimitExceeded:          "CTAP2_ERR_LIMIT_EXCEEDED",
	StatusCredentialExcluded:     "CTAP2_ERR_CREDENTIAL_EXCLUDED",
	StatusUnsupportedAlg:         "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
	StatusOperationDenied:        "CTAP2_ERR_OPERATION_DENIED",
	StatusKeyStoreFull:           "CTAP2_ERR_KEY_STORE_FULL",
	StatusUnsupportedOption:      "CTAP2_ERR_UNSUPPORTED_OPTION",
	StatusInvalidOption:          "CTAP2_ERR_INVALID_OPTION",
	StatusKeepaliveCancel:        "CTAP2_ERR_KEEPALIVE_CANCEL",
	StatusNoCredentials:          "CTAP2_ERR_NO_CREDENTIALS",
	StatusUserActionTimeout:      "CTAP2_ERR_USER_ACTION_TIMEOUT",
	StatusNotAllowed:             "CTAP2_ERR_NOT_ALLOWED",
	StatusPINInvalid:             "CTAP2_ERR_PIN_INVALID",
	StatusPINBlocked:             "CTAP2_ERR_PIN_BLOCKED",
	StatusPINAuthInvalid:         "CTAP2_ERR_PIN_AUTH_INVALID",
	StatusPINAuthBlocked:         "CTAP2_ERR_PIN_AUTH_BLOCKED",
	StatusPINNotSet:              "CTAP2_ERR_PIN_NOT_SET",
	StatusPUATRequired:           "CTAP2_ERR_PUAT_REQUIRED",
	StatusPINPolicyViolation:     "CTAP2_ERR_PIN_POLICY_VIOLATION",
	StatusRequestTooLarge:        "CTAP2_ERR_REQUEST_TOO_LARGE",
	StatusUVBlocked:              "CTAP2_ERR_UV_BLOCKED",
	StatusInvalidSubcommand:      "CTAP2_ERR_INVALID_SUBCOMMAND",
	StatusUVInvalid:              "CTAP2_ERR_UV_INVALID",
	StatusUnauthorizedPermission: "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
	StatusOther:                  "CTAP1_ERR_OTHER",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("CTAP status 0x%02x", byte(s))
}

// Error makes a Status usable as the error a command handler returns.
func (s Status) Error() string { return s.String() }

// Option names of authenticatorGetInfo and of the options maps of
// makeCredential and getAssertion (CTAP 2.1 §6.4).
const (
	optRK  = "rk"
	optUP  = "up"
	optUV  = "uv"
	optPIN = "clientPin"
)

// Permissions of a pinUvAuthToken (CTAP 2.1 §6.5.5.7).
const (
	PermMakeCredential = 0x01
	PermGetAssertion   = 0x02
	permAllKnown       = 0x3f
)

// credProtect levels (CTAP 2.1 §12.1).
const (
	credProtectOptional         = 1
	credProtectOptionalWithList = 2
	credProtectRequired         = 3
)
