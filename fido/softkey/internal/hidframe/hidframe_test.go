package hidframe

import (
	"bytes"
	"testing"
)

func TestContinuationsNumberAndPadPackets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		packets int
	}{
		{"nothing left", 0, 0},
		{"one byte", 1, 1},
		{"one full packet", 59, 1},
		{"one byte over", 60, 2},
		{"the most a message holds", 128 * 59, 128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{0xaa}, tc.size)
			ps := Continuations(0x01020304, data)
			if len(ps) != tc.packets {
				t.Fatalf("%d packets, want %d", len(ps), tc.packets)
			}
			var got []byte
			for i, p := range ps {
				if len(p) != PacketSize || !bytes.Equal(p[:4], []byte{1, 2, 3, 4}) || p[4] != byte(i) {
					t.Fatalf("packet %d starts % x, want CID 01020304 and SEQ %d in %d bytes", i, p[:5], i, PacketSize)
				}
				got = append(got, p[5:]...)
			}
			if !bytes.Equal(got[:min(len(got), tc.size)], data) || bytes.ContainsFunc(got[tc.size:], func(r rune) bool { return r != 0 }) {
				t.Fatalf("data not carried in order with zero padding")
			}
		})
	}
}
