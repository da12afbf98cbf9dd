package uilink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"passkiosk/kiosk"
)

// Every kiosk.Commands method crosses the wire and arrives as it was
// called.
func TestEveryCommandRoundTrips(t *testing.T) {
	for _, c := range []command{
		{op: opChooseUser, user: "alice"},
		{op: opTypeUserName, text: "Zoë Ångström"},
		{op: opEnterPIN, pin: []byte("135790")},
		{op: opUseKey},
		{op: opChooseAccount, index: 3},
		{op: opCancel},
		{op: opStartEnrollment, text: "ABCD-EFGH-2345"},
		{op: opChooseAttachment, att: kiosk.AttachRoaming},
		{op: opAddBackup},
		{op: opSignOut},
		{op: opStillHere},
		{op: opRelaunchProgram},
		{op: opActivity},
	} {
		got, err := decodeCommand(c.encode())
		if err != nil {
			t.Errorf("op %d: %v", c.op, err)
			continue
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("op %d: sent %+v, got %+v", c.op, c, got)
		}
	}
	// Every op up to opLast has a case: a method added to kiosk.Commands
	// needs one here too.
	for o := op(1); o <= opLast; o++ {
		if _, err := decodeCommand([]byte{byte(o)}); err != nil && !errors.Is(err, errFrame) {
			t.Errorf("op %d: %v", o, err)
		}
	}
}

func TestBadCommandsAreRefused(t *testing.T) {
	long := bytes.Repeat([]byte("a"), maxText+1)
	for name, b := range map[string][]byte{
		"empty":               {},
		"unknown op":          {byte(opLast + 1)},
		"op zero":             {0},
		"argument to cancel":  {byte(opCancel), 1},
		"empty user":          {byte(opChooseUser)},
		"long user":           append([]byte{byte(opChooseUser)}, bytes.Repeat([]byte{1}, maxUserID+1)...),
		"empty PIN":           {byte(opEnterPIN)},
		"long PIN":            append([]byte{byte(opEnterPIN)}, bytes.Repeat([]byte("1"), maxPIN+1)...),
		"long name":           append([]byte{byte(opTypeUserName)}, long...),
		"name not UTF-8":      {byte(opTypeUserName), 0xff, 0xfe},
		"name with NUL":       {byte(opTypeUserName), 'a', 0, 'b'},
		"short account index": {byte(opChooseAccount), 0, 1},
		"huge account index":  {byte(opChooseAccount), 0xff, 0xff, 0xff, 0xff},
		"attachment 0":        {byte(opChooseAttachment), 0},
		"attachment 9":        {byte(opChooseAttachment), 9},
	} {
		c, err := decodeCommand(b)
		if !errors.Is(err, errFrame) {
			t.Errorf("%s: %v, want a malformed frame", name, err)
		}
		if !reflect.DeepEqual(c, command{}) {
			t.Errorf("%s: an error came with %+v", name, c)
		}
	}
}

func TestFramesOverTheLimitAreRefusedBeforeTheBodyIsRead(t *testing.T) {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(MaxCommandFrame+1))
	b.WriteByte(msgCommand) // and no body: the reader must not wait for one
	if _, _, err := decodeFrame(&b, MaxCommandFrame); !errors.Is(err, errFrame) {
		t.Fatalf("oversized frame: %v", err)
	}
	if _, _, err := decodeFrame(bytes.NewReader([]byte{0, 0, 0, 0}), MaxCommandFrame); !errors.Is(err, errFrame) {
		t.Fatalf("empty frame: %v", err)
	}
	if _, _, err := decodeFrame(bytes.NewReader([]byte{0, 0, 0, 9, msgView, 1}), MaxViewFrame); err == nil {
		t.Fatal("a cut frame was accepted")
	}
}

func TestViewRoundTrips(t *testing.T) {
	at := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	v := kiosk.View{State: kiosk.StateInSession, Prompt: kiosk.PromptSession, Terminal: "Ward 7 — bay 2",
		Notice: &kiosk.Notice{Code: kiosk.NoticeWrongPIN, Tries: 4, Until: at},
		Tiles:  []kiosk.Tile{{User: "alice", DisplayName: "Alice Moreau"}}, PlatformAvailable: true,
		Accounts: []kiosk.Account{{Index: 1, DisplayName: "Bob", Name: "bob"}}, PINMinLength: 6, Deadline: at,
		Session: &kiosk.SessionView{User: "alice", DisplayName: "Alice", Started: at, EndsAt: at.Add(time.Hour), ProgramRunning: true}}
	b, err := encodeView(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeView(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("sent %+v\ngot  %+v", v, got)
	}
	for _, bad := range []string{`{"State":1,"Surprise":2}`, `{"State":1} {}`, `[1]`, `{"State":"x"}`} {
		if _, err := decodeView([]byte(bad)); !errors.Is(err, errFrame) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// A command either decodes to something that encodes to the same bytes,
// or is an error with a zero command; nothing panics.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []command{{op: opChooseUser, user: "alice"}, {op: opEnterPIN, pin: []byte("1234")},
		{op: opChooseAccount, index: 2}, {op: opChooseAttachment, att: kiosk.AttachPlatform}, {op: opCancel},
		{op: opStartEnrollment, text: "CODE"}} {
		f.Add(c.encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			if !reflect.DeepEqual(c, command{}) {
				t.Fatalf("error %v with %+v", err, c)
			}
			return
		}
		if again := c.encode(); !bytes.Equal(again, b) {
			t.Fatalf("%x decoded to %+v, which encodes to %x", b, c, again)
		}
	})
}

// A frame reader given anything returns a frame within its limit or an
// error, and never panics.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, msgCommand, byte(opCancel)})
	f.Add([]byte{0, 0, 0, 1, msgPing})
	f.Add(append([]byte{0, 0, 0, 16, msgHello}, encodeHello(Hello{ProgramName: "x"})...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, msgView})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, body, err := decodeFrame(bytes.NewReader(b), 64)
		if err != nil {
			if body != nil {
				t.Fatalf("error %v with a body", err)
			}
			return
		}
		if len(body)+1 > 64 || 4+1+len(body) > len(b) || b[4] != typ {
			t.Fatalf("frame %d %x from %x", typ, body, b)
		}
		if typ == msgCommand {
			decodeCommand(body)
		}
		if typ == msgView {
			decodeView(body)
		}
		if typ == msgCleared {
			decodeCleared(body)
		}
		if typ == msgHello {
			if _, h, err := decodeHello(body); err == nil {
				if _, again, err := decodeHello(encodeHello(h)); err != nil || again != h {
					t.Fatalf("hello %+v does not round-trip: %+v %v", h, again, err)
				}
			}
		}
	})
}

func FuzzDecodeView(f *testing.F) {
	b, _ := encodeView(kiosk.View{State: kiosk.StateLocked, Tiles: []kiosk.Tile{{User: "a"}}, Notice: &kiosk.Notice{Code: 1}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeView(b)
		if err != nil {
			if !reflect.DeepEqual(v, kiosk.View{}) {
				t.Fatalf("error %v with a view", err)
			}
			return
		}
		if _, err := encodeView(v); err != nil {
			t.Fatalf("decoded %+v does not encode: %v", v, err)
		}
	})
}
