package admin

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzRequest feeds arbitrary bytes to the request reader and parser:
// they give a request or an Error with an exit code, never a panic, and
// a request re-reads the same.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"command":"status"}` + "\n",
		`{"command":"users.add","args":{"name":"alice","groups":["a"]}}` + "\n",
		"\x00\xff\n",
		`{"command":"status"} {}` + "\n",
		`{"command":"x","args":null}` + "\n",
		"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		line, err := readLine(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if len(line) > MaxMessage || bytes.IndexByte(line, '\n') >= 0 {
			t.Fatalf("line of %d bytes with a newline inside", len(line))
		}
		req, perr := parseRequest(line)
		if perr != nil {
			if perr.Code != ExitInvalid || perr.Message == "" {
				t.Fatalf("error %+v", perr)
			}
			return
		}
		if req.Command == "" {
			t.Fatalf("request without command accepted")
		}
	})
}
