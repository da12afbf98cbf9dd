package admin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"passkiosk/kiosk"
)

// The wire protocol: over a Unix stream socket, the client writes one
// request as a single line of JSON and the server answers with lines of
// JSON: one Response, or for streaming commands (audit follow, audit
// export) several with More set and a last one without. Then the server
// closes the connection. A line is at most MaxMessage bytes; a longer one
// is refused, not buffered.

// MaxMessage bounds one line in either direction.
const MaxMessage = 1 << 20

// Request is one command.
type Request struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// Response is the answer, or one part of a streamed answer.
type Response struct {
	OK     bool            `json:"ok"`
	Error  *Error          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	// More says another Response follows (streaming commands).
	More bool `json:"more,omitempty"`
}

// Error is a refused or failed command. Code is the exit code
// passkioskctl returns for it; Kind the kiosk kind's name.
type Error struct {
	Code     int      `json:"code"`
	Kind     string   `json:"kind"`
	Message  string   `json:"message"`
	Problems []string `json:"problems,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Exit codes of passkioskctl, also carried in Error.Code.
const (
	ExitOK          = 0 // done
	ExitFailed      = 1 // the appliance tried and failed (see the message)
	ExitUsage       = 2 // wrong command line
	ExitRefused     = 3 // not allowed: not root or the admin group, or refused by the appliance
	ExitNotFound    = 4 // no such user, credential, code or session
	ExitUnreachable = 5 // the appliance is not running or its socket cannot be reached
	ExitConflict    = 6 // the record exists, or changed since you looked (apply again)
	ExitInvalid     = 7 // the input was refused: a policy file or value with errors
)

// errorOf turns an error into its wire form.
func errorOf(err error) *Error {
	var we *Error
	if errors.As(err, &we) {
		return we
	}
	kind := kiosk.KindOf(err)
	e := &Error{Code: ExitFailed, Kind: kind.String(), Message: err.Error()}
	var ke *kiosk.Error
	if errors.As(err, &ke) && ke.Err != nil {
		// The op and kind prefixes are for logs; the administrator reads
		// the detail.
		e.Message = ke.Err.Error()
	}
	switch kind {
	case kiosk.KindNotFound:
		e.Code = ExitNotFound
	case kiosk.KindConflict:
		e.Code = ExitConflict
	case kiosk.KindMalformed, kiosk.KindPolicy:
		e.Code = ExitInvalid
	case kiosk.KindNotAllowed:
		e.Code = ExitRefused
	}
	return e
}

// refused is a permission error.
func refused(format string, args ...any) *Error {
	return &Error{Code: ExitRefused, Kind: kiosk.KindNotAllowed.String(), Message: fmt.Sprintf(format, args...)}
}

// invalid is a malformed request.
func invalid(format string, args ...any) *Error {
	return &Error{Code: ExitInvalid, Kind: kiosk.KindMalformed.String(), Message: fmt.Sprintf(format, args...)}
}

// readLine reads one newline-terminated line of at most MaxMessage bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxMessage {
			return nil, invalid("message larger than %d bytes", MaxMessage)
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(buf, []byte("\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return nil, invalid("message not terminated by a newline")
		default:
			return nil, err
		}
	}
}

// deadline is how long one read or write may take on the socket. An
// administrator's command is small; a client that stalls longer is gone.
const deadline = 10 * time.Second

// parseRequest reads one request line.
func parseRequest(line []byte) (Request, *Error) {
	var req Request
	if err := strictJSON(line, &req); err != nil {
		return Request{}, invalid("the request is not valid JSON: %v", err)
	}
	if req.Command == "" {
		return Request{}, invalid("the request names no command")
	}
	return req, nil
}

// strictJSON decodes exactly one JSON value with no unknown fields.
func strictJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
