package hidtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"passkiosk/kiosk"
)

// clientEnv marks a re-executed test binary as a client process.
const clientEnv = "PASSKIOSK_HIDTEST_CLIENT"

// Go's own system calls do not go through libc, so the umockdev preload
// cannot redirect them; only C code (libfido2, libudev) sees the testbed.
// Code under test that reaches keys through libfido2 therefore runs in a
// client process started with the preload, and the test process hosts the
// testbed and the virtual keys. The client is the test binary itself,
// re-executed: TestMain calls ServeClient when IsClient reports true.
//
// The two processes talk over a pair of pipes (file descriptors 3 and 4 in
// the client) with one JSON object per line, so test output on stdout and
// stderr never mixes with the protocol.

type request struct {
	ID     uint64          `json:"id"`
	Method string          `json:"method,omitempty"`
	In     json.RawMessage `json:"in,omitempty"`
	Cancel bool            `json:"cancel,omitempty"`
}

type response struct {
	ID    uint64          `json:"id"`
	Out   json.RawMessage `json:"out,omitempty"`
	Err   string          `json:"err,omitempty"`
	Kind  kiosk.Kind      `json:"kind,omitempty"`
	Tries int             `json:"tries,omitempty"`
}

// Handler serves one method in the client process. The context is
// cancelled when the test process cancels the call.
type Handler func(ctx context.Context, in json.RawMessage) (any, error)

// IsClient reports whether this process is a client started by
// StartClient.
func IsClient() bool { return os.Getenv(clientEnv) == "1" }

// ServeClient runs the client side until the test process closes the
// pipe. Each call runs in its own goroutine, so the test process can issue
// a call and cancel it, or issue two at once.
func ServeClient(handlers map[string]Handler) {
	in := os.NewFile(3, "hidtest-requests")
	out := os.NewFile(4, "hidtest-responses")
	var wmu sync.Mutex
	enc := json.NewEncoder(out)
	reply := func(r response) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = enc.Encode(r)
	}
	var mu sync.Mutex
	cancels := make(map[uint64]context.CancelFunc)
	var wg sync.WaitGroup
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "hidtest client: bad request: %v\n", err)
			os.Exit(2)
		}
		if req.Cancel {
			mu.Lock()
			if c := cancels[req.ID]; c != nil {
				c()
			}
			mu.Unlock()
			continue
		}
		h := handlers[req.Method]
		if h == nil {
			reply(response{ID: req.ID, Err: "no such method " + req.Method})
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		mu.Lock()
		cancels[req.ID] = cancel
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(cancels, req.ID)
				mu.Unlock()
				cancel()
			}()
			reply(callHandler(ctx, h, req))
		}()
	}
	wg.Wait()
}

func callHandler(ctx context.Context, h Handler, req request) response {
	res := response{ID: req.ID}
	out, err := h(ctx, req.In)
	if err != nil {
		res.Err = err.Error()
		res.Kind = kiosk.KindOf(err)
		res.Tries = kiosk.TriesLeft(err)
		return res
	}
	b, err := json.Marshal(out)
	if err != nil {
		res.Err = "encoding result: " + err.Error()
		return res
	}
	res.Out = b
	return res
}

// Client is a running client process.
type Client struct {
	cmd    *exec.Cmd
	reqW   io.WriteCloser
	wmu    sync.Mutex
	mu     sync.Mutex
	nextID uint64
	calls  map[uint64]chan response
	done   chan struct{}
	err    error
}

// StartClient re-executes the test binary as a client of testbed b. Its
// TestMain must call ServeClient when IsClient is true. The client is
// stopped when the test ends.
func (b *Testbed) StartClient(tb testing.TB) *Client {
	tb.Helper()
	c, err := b.startClient()
	if err != nil {
		tb.Fatalf("hidtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("hidtest client: %v", err)
		}
	})
	return c
}

func (b *Testbed) startClient() (*Client, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(b.Env(), clientEnv+"=1")
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{reqR, resW}
	if err := cmd.Start(); err != nil {
		reqR.Close()
		reqW.Close()
		resR.Close()
		resW.Close()
		return nil, fmt.Errorf("starting client: %w", err)
	}
	reqR.Close()
	resW.Close()
	c := &Client{cmd: cmd, reqW: reqW, calls: make(map[uint64]chan response), done: make(chan struct{})}
	go c.readResponses(resR)
	return c, nil
}

func (c *Client) readResponses(r io.ReadCloser) {
	defer close(c.done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var res response
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("bad response: %w", err)
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		ch := c.calls[res.ID]
		delete(c.calls, res.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- res
		}
	}
}

// cancelGrace bounds the wait for a handler's answer once its call was
// cancelled: the code under test gets this long to wind down.
const cancelGrace = time.Minute

// ErrClientGone is returned by Call when the client process has exited.
var ErrClientGone = errors.New("hidtest: client process exited")

// Call runs method in the client with in as its JSON argument and decodes
// the result into out (which may be nil). Errors keep their kiosk kind and
// tries count across the process boundary. Cancelling ctx cancels the
// handler's context in the client; Call then still waits, at most a
// minute, for the handler's answer, so a test sees what the code under
// test did with the cancellation. Give ctx a deadline: with one, every
// wait in Call is bounded.
func (c *Client) Call(ctx context.Context, method string, in, out any) error {
	arg, err := json.Marshal(in)
	if err != nil {
		return err
	}
	ch := make(chan response, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.calls[id] = ch
	c.mu.Unlock()
	if err := c.send(request{ID: id, Method: method, In: arg}); err != nil {
		return err
	}
	cancelled := ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case <-grace:
			return fmt.Errorf("hidtest: %s: no answer %v after cancelling: %w", method, cancelGrace, ctx.Err())
		case res := <-ch:
			if res.Err != "" {
				return kiosk.WithTries(res.Kind, method, res.Tries, errors.New(res.Err))
			}
			if out == nil {
				return nil
			}
			return json.Unmarshal(res.Out, out)
		case <-cancelled:
			cancelled = nil
			grace = time.After(cancelGrace)
			if err := c.send(request{ID: id, Cancel: true}); err != nil {
				return err
			}
		case <-c.done:
			return ErrClientGone
		}
	}
}

func (c *Client) send(r request) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.reqW.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("hidtest: sending to client: %w", err)
	}
	return nil
}

// Close ends the client: it closes the request pipe, which makes
// ServeClient return once running calls finish, and waits a bounded time
// for the process to exit before killing it.
func (c *Client) Close() error {
	c.wmu.Lock()
	_ = c.reqW.Close()
	c.wmu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("client exited: %w", err)
		}
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-exited
		return errors.New("client did not exit in 20s; killed")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
