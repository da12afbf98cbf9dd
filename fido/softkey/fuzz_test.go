package softkey_test

import (
	"context"
	"testing"
	"time"

	"passkiosk/fido/cbor"
	"passkiosk/fido/softkey"
	"passkiosk/fido/softkey/host"
)

// FuzzCommand sends arbitrary authenticator API messages. Properties: the
// key always answers with a status; an OK answer carries nothing or one
// well-formed CBOR item; and the key keeps working afterwards.
func FuzzCommand(f *testing.F) {
	seed := func(cmd byte, v any) {
		b, err := cbor.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{cmd}, b...))
	}
	f.Add([]byte{0x04})
	f.Add([]byte{0x08})
	seed(0x01, map[int]any{1: make([]byte, 32), 2: map[string]any{"id": "a"}, 3: map[string]any{"id": []byte{1}}, 4: []map[string]any{{"alg": -7, "type": "public-key"}}, 7: map[string]bool{"rk": true}})
	seed(0x02, map[int]any{1: "a", 2: make([]byte, 32)})
	seed(0x06, map[int]any{1: 2, 2: 2})
	seed(0x06, map[int]any{1: 1, 2: 5, 3: map[int]any{1: 2, 3: -25, -1: 1, -2: make([]byte, 32), -3: make([]byte, 32)}, 6: make([]byte, 16)})
	f.Add([]byte{0x01, 0xa1, 0x01, 0x40})

	k, err := softkey.New(softkey.Config{PIN: testPIN, Fingerprint: true, TouchTimeout: 50 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) == 0 || len(msg) > softkey.MaxMessage || msg[0] == 0x07 {
			return // an empty message is a framing error; reset is not fuzzed
		}
		conn := k.Plug()
		defer conn.Unplug()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := host.Open(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := c.Transact(ctx, host.CmdCBOR, msg)
		if err != nil {
			t.Fatalf("no answer to %x: %v", msg, err)
		}
		if len(reply) == 0 {
			t.Fatal("empty answer")
		}
		if reply[0] == 0 && len(reply) > 1 {
			if err := cbor.Valid(reply[1:]); err != nil {
				t.Fatalf("OK answer with bad CBOR %x: %v", reply, err)
			}
		}
		if _, err := c.GetInfo(ctx); err != nil {
			t.Fatalf("getInfo after %x: %v", msg, err)
		}
	})
}
