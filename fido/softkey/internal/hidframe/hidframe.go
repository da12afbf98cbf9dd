// Package hidframe frames CTAPHID messages into reports (CTAP 2.1
// §11.2.4). The virtual key uses it for its replies and the test host for
// its requests, so both ends split a message the same way.
package hidframe

import "encoding/binary"

// PacketSize is the size of a CTAPHID report on full-speed USB HID.
const PacketSize = 64

// Continuations splits what an initialization packet could not hold into
// continuation packets on channel cid: CID(4) SEQ(1) and up to 59 data
// bytes each, SEQ counting from 0, the last one padded with zeros.
func Continuations(cid uint32, data []byte) [][]byte {
	var out [][]byte
	for seq := byte(0); len(data) > 0; seq++ {
		p := make([]byte, PacketSize)
		binary.BigEndian.PutUint32(p, cid)
		p[4] = seq
		n := copy(p[5:], data)
		data = data[n:]
		out = append(out, p)
	}
	return out
}
