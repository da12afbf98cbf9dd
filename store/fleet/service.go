package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"passkiosk/kiosk"
	"passkiosk/store"
)

// The fleet service's API for terminals: HTTPS with the terminal's client
// certificate, whose common name names the terminal. Terminals cannot
// write the directory (doc.go), so they look codes up and redeem them
// here; the service runs Directory.Redeem with the directory's write role.
//
//	POST /v1/codes/lookup  {"code": "…"}                       → Code
//	POST /v1/codes/redeem  {"code": "…", "credential": {…}}    → {"code": Code, "revision": n}
//	an error               → {"kind": kiosk.Kind, "error": "…"} with a 4xx or 5xx status

type codeRequest struct {
	Code       string            `json:"code"`
	Credential *store.Credential `json:"credential,omitempty"`
}

type redeemResponse struct {
	Code     Code  `json:"code"`
	Revision int64 `json:"revision"`
}

type errorResponse struct {
	Kind  kiosk.Kind `json:"kind"`
	Error string     `json:"error"`
}

// maxRequest bounds a request body: a code and one credential's public
// part (a credential ID is at most 1023 bytes, WebAuthn §4).
const maxRequest = 16 << 10

// Handler serves the terminals' API over dir. The server must require
// and verify client certificates (tls.RequireAndVerifyClientCert): the
// certificate's common name is the terminal the redemption is recorded
// for, whatever the request says.
func Handler(dir *Directory, log *slog.Logger) http.Handler {
	log = kiosk.LogOr(log)
	mux := http.NewServeMux()
	serve := func(fn func(ctx context.Context, terminal string, req codeRequest) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
				writeError(w, kiosk.Errorf(kiosk.KindNotAllowed, "fleet service", "a terminal's client certificate is required"))
				return
			}
			terminal := r.TLS.PeerCertificates[0].Subject.CommonName
			var req codeRequest
			dec := json.NewDecoder(io.LimitReader(r.Body, maxRequest))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				writeError(w, kiosk.E(kiosk.KindMalformed, "fleet service", err))
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			res, err := fn(ctx, terminal, req)
			if err != nil {
				log.Info("fleet service: refused", "terminal", terminal, "path", r.URL.Path, "err", err)
				writeError(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(res)
		}
	}
	mux.Handle("/v1/codes/lookup", serve(func(ctx context.Context, _ string, req codeRequest) (any, error) {
		return dir.LookupCode(ctx, req.Code)
	}))
	mux.Handle("/v1/codes/redeem", serve(func(ctx context.Context, terminal string, req codeRequest) (any, error) {
		if req.Credential == nil {
			return nil, kiosk.Errorf(kiosk.KindMalformed, "redeem fleet code", "no credential")
		}
		cred := *req.Credential
		cred.TPM = nil // never stored, never trusted
		c, rev, err := dir.Redeem(ctx, Redemption{Code: req.Code, Terminal: terminal, Credential: cred})
		if err != nil {
			return nil, err
		}
		log.Info("fleet service: code redeemed", "terminal", terminal, "user", fmt.Sprintf("%x", c.UserID), "revision", rev)
		return redeemResponse{Code: c, Revision: rev}, nil
	}))
	return mux
}

func writeError(w http.ResponseWriter, err error) {
	k := kiosk.KindOf(err)
	status := http.StatusBadRequest
	switch k {
	case kiosk.KindOffline:
		status = http.StatusServiceUnavailable
	case kiosk.KindNotAllowed:
		status = http.StatusForbidden
	case kiosk.KindConflict:
		status = http.StatusConflict
	case kiosk.KindChallenge, kiosk.KindNotFound:
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorResponse{Kind: k, Error: err.Error()})
}

// Service is the terminal's side of the fleet service's API: Codes over
// HTTPS with the terminal's client certificate (ClientConfig's TLS).
type Service struct {
	URL  string // https://fleetd.example:8443
	HTTP *http.Client
}

var _ Codes = (*Service)(nil)

func (s *Service) post(ctx context.Context, path string, req codeRequest, out any) error {
	const op = "fleet service"
	body, err := json.Marshal(req)
	if err != nil {
		return kiosk.E(kiosk.KindMalformed, op, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return kiosk.E(kiosk.KindMalformed, op, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTP.Do(hr)
	if err != nil {
		return kiosk.E(kiosk.KindOffline, op, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxRequest))
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if err := dec.Decode(&e); err != nil || e.Kind == kiosk.KindUnknown {
			return kiosk.Errorf(kiosk.KindOffline, op, "the fleet service answered %s", resp.Status)
		}
		return &kiosk.Error{Kind: e.Kind, Op: op, Err: errors.New(e.Error)}
	}
	if err := dec.Decode(out); err != nil {
		return kiosk.E(kiosk.KindOffline, op, err)
	}
	return nil
}

// LookupCode asks the service whether code would be accepted.
func (s *Service) LookupCode(ctx context.Context, code string) (Code, error) {
	var c Code
	err := s.post(ctx, "/v1/codes/lookup", codeRequest{Code: code}, &c)
	return c, err
}

// Redeem asks the service to use code up and store r.Credential in one
// transaction. The service records the terminal from the certificate.
func (s *Service) Redeem(ctx context.Context, r Redemption) (Code, int64, error) {
	cred := r.Credential
	cred.TPM = nil
	var out redeemResponse
	err := s.post(ctx, "/v1/codes/redeem", codeRequest{Code: r.Code, Credential: &cred}, &out)
	return out.Code, out.Revision, err
}
