package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"passkiosk/kiosk"
)

// Client calls the admin API. Each call is one connection.
type Client struct {
	Socket string
	// Timeout bounds a whole call (streams excepted); 0 means 30 s.
	Timeout time.Duration
}

// Unreachable is the error of a call that could not reach the appliance.
type Unreachable struct {
	Socket string
	Err    error
}

func (e *Unreachable) Error() string {
	return fmt.Sprintf("cannot reach the appliance at %s: %v (is passkiosk running? is --socket right?)", e.Socket, e.Err)
}

func (e *Unreachable) Unwrap() error { return e.Err }

func (c *Client) dial(ctx context.Context, cmd string, args any) (net.Conn, *bufio.Reader, error) {
	conn, err := c.connect(ctx)
	var busyErr *Error
	if errors.As(err, &busyErr) {
		return nil, nil, busyErr
	}
	if errors.Is(err, syscall.EACCES) {
		return nil, nil, refused("permission denied on %s: only root and members of the appliance's admin group may administer it (see admin.group in /etc/passkiosk/passkiosk.toml)", c.Socket)
	}
	if err != nil {
		return nil, nil, &Unreachable{Socket: c.Socket, Err: err}
	}
	req := Request{Command: cmd}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	b, _ := json.Marshal(req)
	conn.SetWriteDeadline(time.Now().Add(deadline))
	if _, err := conn.Write(append(b, '\n')); err != nil {
		// A refused peer may be told so and hung up on before the request
		// is read; the response says why.
		r := bufio.NewReader(conn)
		var we *Error
		if _, rerr := readResponse(conn, r); errors.As(rerr, &we) {
			conn.Close()
			return nil, nil, we
		}
		conn.Close()
		return nil, nil, c.hungUp(err)
	}
	return conn, bufio.NewReaderSize(conn, 64<<10), nil
}

// connect dials the socket. A listen queue that is full (EAGAIN, unix(7))
// means the appliance is there but busy: try again for a moment, then
// say so rather than that it cannot be reached.
func (c *Client) connect(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	wait := 10 * time.Millisecond
	give := time.Now().Add(busyRetry)
	for {
		conn, err := d.DialContext(ctx, "unix", c.Socket)
		if !errors.Is(err, syscall.EAGAIN) {
			return conn, err
		}
		if time.Now().After(give) {
			return nil, busy()
		}
		select {
		case <-ctx.Done():
			return nil, busy()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// busyRetry is how long a call keeps connecting to an appliance whose
// listen queue is full.
const busyRetry = 3 * time.Second

// hungUp is the error of a connection the appliance closed before
// answering. The socket answered, so the appliance runs: it was busy
// (or stopping), not unreachable.
func (c *Client) hungUp(err error) error {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) {
		e := busy()
		e.Message = "the appliance closed the connection without answering; it may be busy or stopping: try again"
		return e
	}
	return &Unreachable{Socket: c.Socket, Err: err}
}

func readResponse(conn net.Conn, r *bufio.Reader) (Response, error) {
	var resp Response
	line, err := readLine(r)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return resp, fmt.Errorf("bad response from the appliance: %v", err)
	}
	if resp.Error != nil {
		return resp, resp.Error
	}
	return resp, nil
}

// Call runs one command and decodes its result into out (nil: ignore).
func (c *Client) Call(ctx context.Context, cmd string, args, out any) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, r, err := c.dial(ctx, cmd, args)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	resp, err := readResponse(conn, r)
	if err != nil {
		return c.readErr(err)
	}
	if resp.More {
		return fmt.Errorf("%s streams its answer; use Stream", cmd)
	}
	if out != nil && resp.Result != nil {
		return json.Unmarshal(resp.Result, out)
	}
	return nil
}

func (c *Client) readErr(err error) error {
	var we *Error
	if errors.As(err, &we) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return kiosk.E(kiosk.KindTimeout, "admin call", fmt.Errorf("the appliance did not answer in time"))
	}
	return c.hungUp(err)
}

// Stream runs a streaming command, calling each with every part until
// the last, whose result it returns. each returning false stops it with
// no error. ctx ending before the last part stops it with a
// kiosk.KindCancelled error: for an export that means it is incomplete,
// while a follow, which has no last part, ends that way by design.
func (c *Client) Stream(ctx context.Context, cmd string, args any, each func(json.RawMessage) bool) (json.RawMessage, error) {
	conn, r, err := c.dial(ctx, cmd, args)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		resp, err := readResponse(conn, r)
		if err != nil {
			if ctx.Err() != nil {
				return nil, kiosk.E(kiosk.KindCancelled, "admin "+cmd, context.Cause(ctx))
			}
			return nil, c.readErr(err)
		}
		if !resp.More {
			return resp.Result, nil
		}
		if !each(resp.Result) {
			return nil, nil
		}
	}
}
