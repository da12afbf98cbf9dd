package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Header sizes of TPM 2.0 commands and responses (TPM 2.0 Part 1 §18.2,
// Part 3 §5: tag UINT16, size UINT32, code UINT32).
const (
	headerSize      = 10
	maxResponseSize = 64 << 10
)

// retryingTPM re-sends a command the TPM answered with TPM_RC_RETRY,
// TPM_RC_TESTING or TPM_RC_YIELDED. Those warnings (TPM 2.0 Part 2 §6.6.3)
// mean the command was not executed, so the same bytes, with the same
// session nonces, are still valid: tpm2-tss resubmits them the same way.
// The back-off doubles from 1 ms up to maxRetryDelay, so twelve attempts
// wait about one second in all.
type retryingTPM struct {
	next     transport.TPM
	attempts int
	sleep    func(time.Duration)
}

const maxRetryDelay = 250 * time.Millisecond

func (r *retryingTPM) Send(cmd []byte) ([]byte, error) {
	delay := time.Millisecond
	for i := 0; ; i++ {
		rsp, err := r.next.Send(cmd)
		if err != nil {
			return nil, err
		}
		rc, ok := responseCode(rsp)
		if !ok || !retryable(rc) || i+1 >= r.attempts {
			return rsp, nil
		}
		r.sleep(delay)
		delay = min(2*delay, maxRetryDelay)
	}
}

// responseCode reads the response code from a response header.
func responseCode(rsp []byte) (tpm2.TPMRC, bool) {
	if len(rsp) < headerSize {
		return 0, false
	}
	return tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])), true
}

// commandCode reads the command code from a command header.
func commandCode(cmd []byte) (tpm2.TPMCC, bool) {
	if len(cmd) < headerSize {
		return 0, false
	}
	return tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10])), true
}

func retryable(rc tpm2.TPMRC) bool {
	return rc == tpm2.TPMRCRetry || rc == tpm2.TPMRCTesting || rc == tpm2.TPMRCYielded
}

// streamTPM speaks raw TPM commands over a byte stream, as swtpm's data
// channel does: one command written, one response read. The response is
// framed by the size in its header rather than by a single read, because a
// stream socket may deliver it in pieces. Every command has a deadline so a
// hung TPM process cannot hang the appliance.
type streamTPM struct {
	mu      sync.Mutex
	conn    net.Conn
	timeout time.Duration
}

func dialStream(network, address string, timeout time.Duration) (*streamTPM, error) {
	conn, err := net.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	return &streamTPM{conn: conn, timeout: timeout}, nil
}

func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return nil, err
	}
	if _, err := s.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("write command: %w", err)
	}
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(s.conn, hdr); err != nil {
		return nil, fmt.Errorf("read response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < headerSize || size > maxResponseSize {
		return nil, fmt.Errorf("response size %d out of range", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.conn, rsp[headerSize:]); err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	return rsp, nil
}

func (s *streamTPM) Close() error { return s.conn.Close() }

// closerFunc adapts a transport and a close function to transport.TPMCloser.
type closerTPM struct {
	transport.TPM
	close func() error
}

func (c closerTPM) Close() error {
	if c.close == nil {
		return nil
	}
	return c.close()
}

var errTPM12 = errors.New("the TPM is a TPM 1.2, passkiosk needs TPM 2.0")
