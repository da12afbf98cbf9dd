package uilink

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"passkiosk/kiosk"
)

// Version is the protocol version both sides must speak.
const Version = 1

const magic = "passkiosk-ui"

// Hello is what the daemon tells a window once, at connect: what does
// not change with every View.
type Hello struct {
	// ProgramName is the default session program's name, for the
	// window's "Start … again"; "" for a generic label.
	ProgramName string
}

// encodeHello is the magic, the version and, from the daemon, the
// Hello's program name (the window sends none).
func encodeHello(h Hello) []byte {
	b := append([]byte(magic), 0, 0)
	binary.BigEndian.PutUint16(b[len(magic):], Version)
	name := h.ProgramName
	if len(name) > maxText || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
		name = ""
	}
	return append(b, name...)
}

// decodeHello checks the other side's hello and returns its version and
// what it told.
func decodeHello(b []byte) (int, Hello, error) {
	if len(b) < len(magic)+2 || string(b[:len(magic)]) != magic {
		return 0, Hello{}, frameErr("not a passkiosk window hello")
	}
	name := b[len(magic)+2:]
	if len(name) > maxText || !utf8.Valid(name) || bytes.IndexByte(name, 0) >= 0 {
		return 0, Hello{}, frameErr("hello with a program name of %d bytes that is not plain text", len(name))
	}
	return int(binary.BigEndian.Uint16(b[len(magic):])), Hello{ProgramName: string(name)}, nil
}

// op names a kiosk.Commands method on the wire. The numbers are fixed.
type op byte

const (
	opChooseUser op = iota + 1
	opTypeUserName
	opEnterPIN
	opUseKey
	opChooseAccount
	opCancel
	opStartEnrollment
	opChooseAttachment
	opAddBackup
	opSignOut
	opStillHere
	opRelaunchProgram
	opActivity
	opLast = opActivity
)

// Argument limits. A WebAuthn user handle is at most 64 bytes (WebAuthn
// §5.4.3); names and codes are short typed text; a PIN of a security key
// is at most 63 bytes (CTAP 2.1 §6.5.5.5) and the PIN pad's are shorter.
const (
	maxUserID  = 64
	maxText    = 256
	maxPIN     = 64
	maxAccount = 1 << 16
)

// command is one decoded kiosk.Commands call.
type command struct {
	op    op
	user  kiosk.UserID
	text  string // TypeUserName, StartEnrollment
	pin   []byte // EnterPIN: the caller's to hand on or zero
	index int    // ChooseAccount
	att   kiosk.Attachment
}

// encode is the command's frame body. The caller zeroes it after the
// write: for EnterPIN it holds the PIN.
func (c command) encode() []byte {
	b := []byte{byte(c.op)}
	switch c.op {
	case opChooseUser:
		b = append(b, c.user...)
	case opTypeUserName, opStartEnrollment:
		b = append(b, c.text...)
	case opEnterPIN:
		b = append(make([]byte, 0, 1+len(c.pin)), b[0])
		b = append(b, c.pin...)
	case opChooseAccount:
		b = binary.BigEndian.AppendUint32(b, uint32(c.index))
	case opChooseAttachment:
		b = append(b, byte(c.att))
	}
	return b
}

// decodeCommand reads a command frame's body. It copies the PIN out, so
// the caller may zero b at once. An error means a zero command.
func decodeCommand(b []byte) (command, error) {
	if len(b) == 0 {
		return command{}, frameErr("empty command")
	}
	c := command{op: op(b[0])}
	arg := b[1:]
	switch c.op {
	case opChooseUser:
		if len(arg) == 0 || len(arg) > maxUserID {
			return command{}, frameErr("user ID of %d bytes", len(arg))
		}
		c.user = kiosk.UserID(arg)
	case opTypeUserName, opStartEnrollment:
		if len(arg) > maxText || !utf8.Valid(arg) || bytes.IndexByte(arg, 0) >= 0 {
			return command{}, frameErr("text argument of %d bytes that is not plain UTF-8 text", len(arg))
		}
		c.text = string(arg)
	case opEnterPIN:
		if len(arg) == 0 || len(arg) > maxPIN {
			return command{}, frameErr("PIN of %d bytes", len(arg))
		}
		c.pin = bytes.Clone(arg)
	case opChooseAccount:
		if len(arg) != 4 {
			return command{}, frameErr("account index of %d bytes", len(arg))
		}
		i := binary.BigEndian.Uint32(arg)
		if i >= maxAccount {
			return command{}, frameErr("account index %d", i)
		}
		c.index = int(i)
	case opChooseAttachment:
		if len(arg) != 1 || (kiosk.Attachment(arg[0]) != kiosk.AttachPlatform && kiosk.Attachment(arg[0]) != kiosk.AttachRoaming) {
			return command{}, frameErr("attachment %v", arg)
		}
		c.att = kiosk.Attachment(arg[0])
	case opUseKey, opCancel, opAddBackup, opSignOut, opStillHere, opRelaunchProgram, opActivity:
		if len(arg) != 0 {
			return command{}, frameErr("command %d takes no argument, got %d bytes", c.op, len(arg))
		}
	default:
		return command{}, frameErr("unknown command %d", b[0])
	}
	return c, nil
}

// apply calls the command on cmds, which takes over the PIN.
func (c command) apply(cmds kiosk.Commands) {
	if f, ok := commandCalls[c.op]; ok {
		f(c, cmds)
	}
}

// commandCalls is the Commands method each operation calls, with its
// argument.
var commandCalls = map[op]func(command, kiosk.Commands){
	opChooseUser:       func(c command, k kiosk.Commands) { k.ChooseUser(c.user) },
	opTypeUserName:     func(c command, k kiosk.Commands) { k.TypeUserName(c.text) },
	opEnterPIN:         func(c command, k kiosk.Commands) { k.EnterPIN(c.pin) },
	opUseKey:           func(_ command, k kiosk.Commands) { k.UseKey() },
	opChooseAccount:    func(c command, k kiosk.Commands) { k.ChooseAccount(c.index) },
	opCancel:           func(_ command, k kiosk.Commands) { k.Cancel() },
	opStartEnrollment:  func(c command, k kiosk.Commands) { k.StartEnrollment(c.text) },
	opChooseAttachment: func(c command, k kiosk.Commands) { k.ChooseAttachment(c.att) },
	opAddBackup:        func(_ command, k kiosk.Commands) { k.AddBackup() },
	opSignOut:          func(_ command, k kiosk.Commands) { k.SignOut() },
	opStillHere:        func(_ command, k kiosk.Commands) { k.StillHere() },
	opRelaunchProgram:  func(_ command, k kiosk.Commands) { k.RelaunchProgram() },
	opActivity:         func(_ command, k kiosk.Commands) { k.Activity() },
}

// clipboard request and answer bodies.
func encodeClipboard(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }

func decodeClipboard(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, frameErr("clipboard request of %d bytes", len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

func encodeCleared(id uint32, err error) []byte {
	b := binary.BigEndian.AppendUint32(nil, id)
	if err == nil {
		return append(b, 1)
	}
	msg := err.Error()
	if len(msg) > maxText {
		msg = msg[:maxText]
	}
	return append(append(b, 0), msg...)
}

// decodeCleared returns the request number and the window's error text
// ("" when it emptied the clipboard).
func decodeCleared(b []byte) (id uint32, failure string, err error) {
	if len(b) < 5 || b[4] > 1 || (b[4] == 1 && len(b) != 5) || len(b) > 5+maxText || !utf8.Valid(b[5:]) {
		return 0, "", frameErr("clipboard answer of %d bytes", len(b))
	}
	id = binary.BigEndian.Uint32(b)
	if b[4] == 1 {
		return id, "", nil
	}
	failure = string(b[5:])
	if failure == "" {
		failure = "the window could not empty the clipboard"
	}
	return id, failure, nil
}

func encodeView(v kiosk.View) ([]byte, error) { return json.Marshal(v) }

// decodeView reads a View; fields this version does not know are an error
// (the hello's version should have caught the mismatch).
func decodeView(b []byte) (kiosk.View, error) {
	var v kiosk.View
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return kiosk.View{}, frameErr("view: %v", err)
	}
	if d.More() {
		return kiosk.View{}, frameErr("view: data after the value")
	}
	return v, nil
}
