package admin

// What the fleet service's admin API (store/fleet/fleetadmin) shares with
// this one: the same error wire form and the same user IDs.

// ErrorOf is the wire form of err: its exit code, kind and message.
func ErrorOf(err error) *Error { return errorOf(err) }

// NewUserID makes the ID of a person added by an administrator (see
// newUserID); taken says whether a hex ID is in use.
func NewUserID(taken func(hexID string) bool) (string, error) { return newUserID(taken) }
