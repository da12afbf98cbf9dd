package fleetapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"passkiosk/kiosk"
	"passkiosk/kiosk/admin"
)

// Client calls the fleet service's admin API with an administrator's
// client certificate. It has kiosk/admin.Client's Call and Stream, so
// passkioskctl's commands run over either.
type Client struct {
	URL  string // https://fleetd.example:8443
	HTTP *http.Client
	// Timeout bounds a whole call (streams excepted); 0 means 30 s.
	Timeout time.Duration
}

// NewClient is a client for the service at url with the administrator's
// certificate and key and the CA file that signs the service's
// certificate.
func NewClient(url, certFile, keyFile, caFile string) (*Client, error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, fmt.Errorf("the fleet service needs your client certificate: give --fleet-cert, --fleet-key and --fleet-ca (or PASSKIOSK_FLEET_CERT, _KEY, _CA)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("your fleet certificate: %v", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &Client{URL: strings.TrimSuffix(url, "/"), HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}}, nil
}

// Unreachable is the error of a call that did not reach the service.
type Unreachable struct {
	URL string
	Err error
}

func (e *Unreachable) Error() string {
	return fmt.Sprintf("cannot reach the fleet service at %s: %v", e.URL, e.Err)
}

func (e *Unreachable) Unwrap() error { return e.Err }

// post sends one command and returns the open response.
func (c *Client) post(ctx context.Context, cmd string, args any) (*http.Response, error) {
	body := []byte("{}")
	if args != nil {
		var err error
		if body, err = json.Marshal(args); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+PathPrefix+cmd, bytes.NewReader(body))
	if err != nil {
		return nil, usage("--fleet %q: %v", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, kiosk.E(kiosk.KindTimeout, "fleet "+cmd, errors.New("the fleet service did not answer in time"))
		}
		return nil, &Unreachable{URL: c.URL, Err: err}
	}
	return resp, nil
}

func usage(format string, args ...any) error {
	return &admin.Error{Code: admin.ExitUsage, Kind: kiosk.KindMalformed.String(), Message: fmt.Sprintf(format, args...)}
}

// lines reads the answer's admin.Response lines.
type lines struct {
	sc     *bufio.Scanner
	status string
}

func newLines(resp *http.Response) *lines {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), admin.MaxMessage+1)
	return &lines{sc: sc, status: resp.Status}
}

func (l *lines) next() (admin.Response, error) {
	var r admin.Response
	if !l.sc.Scan() {
		err := l.sc.Err()
		if err == nil {
			err = errors.New("the answer ended early")
		}
		return r, fmt.Errorf("the fleet service answered %s: %v", l.status, err)
	}
	if err := json.Unmarshal(l.sc.Bytes(), &r); err != nil {
		return r, fmt.Errorf("the fleet service answered %s, not the admin API (is --fleet the fleet service?)", l.status)
	}
	if r.Error != nil {
		return r, r.Error
	}
	return r, nil
}

// Call runs one command and decodes its result into out (nil: ignore).
func (c *Client) Call(ctx context.Context, cmd string, args, out any) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(c.Timeout, 30*time.Second))
	defer cancel()
	resp, err := c.post(ctx, cmd, args)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r, err := newLines(resp).next()
	if err != nil {
		return err
	}
	if r.More {
		return fmt.Errorf("%s streams its answer; use Stream", cmd)
	}
	if out != nil && r.Result != nil {
		return json.Unmarshal(r.Result, out)
	}
	return nil
}

// Stream runs a streaming command as kiosk/admin.Client.Stream does.
func (c *Client) Stream(ctx context.Context, cmd string, args any, each func(json.RawMessage) bool) (json.RawMessage, error) {
	resp, err := c.post(ctx, cmd, args)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	l := newLines(resp)
	for {
		r, err := l.next()
		if err != nil {
			if ctx.Err() != nil {
				return nil, kiosk.E(kiosk.KindCancelled, "fleet "+cmd, context.Cause(ctx))
			}
			return nil, err
		}
		if !r.More {
			return r.Result, nil
		}
		if !each(r.Result) {
			return nil, nil
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
