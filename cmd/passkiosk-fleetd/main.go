// Command passkiosk-fleetd is the fleet service: it holds the directory's
// write role, which terminals never do, and serves them over HTTPS with
// client certificates: enrollment codes looked up and redeemed (one etcd
// transaction per redemption, so a code is single-use across the fleet),
// clone detection over every terminal's counter observations
// (store/fleet), and the fleet's audit trail: each terminal's shipped
// entries verified, archived on disk and deleted from etcd
// (store/fleet/collect). The etcd cluster itself runs beside it (etcd 3.7 members,
// named with --endpoints), or each fleetd embeds one of its members (--embed and
// etcd's own member flags, embed.go).
//
//	passkiosk-fleetd --endpoints https://e1:2379,https://e2:2379,https://e3:2379 \
//	    --etcd-cert fleetd.crt --etcd-key fleetd.key --ca ca.crt \
//	    --listen :8443 --tls-cert service.crt --tls-key service.key --terminal-ca terminals-ca.crt \
//	    [--admin-ca admins-ca.crt] [--refuse-clones]
//
// The same listener serves administrators (passkioskctl --fleet, package
// store/fleet/fleetadmin) under /v1/admin/ when --admin-ca is given: a
// client certificate signed by it whose common name has a role in the
// cluster (passkioskctl fleet admin add). Terminals' certificates reach
// only the terminals' API and administrators' only the admin API.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"passkiosk/kiosk/fleetapi"
	"passkiosk/store/fleet"
	"passkiosk/store/fleet/collect"
	"passkiosk/store/fleet/fleetadmin"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("passkiosk-fleetd", "err", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	endpoints, etcdCert, etcdKey, ca string
	listen, tlsCert, tlsKey, termCA  string
	adminCA, archive                 string
	refuseClones                     bool
	member                           *memberOptions // --embed (embed.go)
}

func parseFlags() (options, error) {
	var o options
	flag.StringVar(&o.endpoints, "endpoints", "", "every etcd member, comma-separated https://host:port")
	flag.StringVar(&o.etcdCert, "etcd-cert", "", "the service's etcd client certificate (its common name is an etcd user with the directory's write role)")
	flag.StringVar(&o.etcdKey, "etcd-key", "", "its private key")
	flag.StringVar(&o.ca, "ca", "", "the certificates that sign the etcd members'")
	flag.StringVar(&o.listen, "listen", ":8443", "where terminals and administrators reach the service")
	flag.StringVar(&o.tlsCert, "tls-cert", "", "the service's server certificate")
	flag.StringVar(&o.tlsKey, "tls-key", "", "its private key")
	flag.StringVar(&o.termCA, "terminal-ca", "", "the certificates that sign terminals' client certificates")
	flag.StringVar(&o.adminCA, "admin-ca", "", "the certificates that sign administrators' client certificates (passkioskctl --fleet); none: no admin API")
	flag.BoolVar(&o.refuseClones, "refuse-clones", false, "revoke a suspected clone, not only report it")
	flag.StringVar(&o.archive, "archive", "/var/lib/passkiosk-fleetd/audit", "the fleet's audit archive: one verified <terminal>.jsonl per terminal (back this up; etcd's copies are deleted once archived)")
	o.member = memberFlags(flag.CommandLine)
	flag.Parse()
	embedding := o.member != nil && o.member.embed
	if (o.endpoints == "" && !embedding) || o.etcdCert == "" || o.etcdKey == "" || o.ca == "" || o.tlsCert == "" || o.tlsKey == "" || o.termCA == "" {
		flag.Usage()
		return o, errors.New("every certificate flag and --endpoints (or --embed) are needed")
	}
	return o, nil
}

func run(log *slog.Logger) error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	m, err := startMember(o.member, log)
	if err != nil {
		return err
	}
	defer m.close()
	if o.endpoints == "" && m != nil {
		o.endpoints = m.endpoints()
	}
	cc, err := fleet.ClientConfig(strings.Split(o.endpoints, ","), o.etcdCert, o.etcdKey, o.ca)
	if err != nil {
		return err
	}
	cl, err := clientv3.New(cc)
	if err != nil {
		return err
	}
	defer cl.Close()
	feed := fleetadmin.NewFeed()
	col, err := collector(cl, o.archive, feed, log)
	if err != nil {
		return err
	}
	defer col.Close()
	api := fleetadmin.Options{Dir: &fleet.Directory{Client: cl}, Archive: col, ArchiveDir: o.archive, Feed: feed, Log: log}
	handler, clients, err := handlers(api, o.termCA, o.adminCA)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              o.listen,
		Handler:           handler,
		TLSConfig:         &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go detect(ctx, cl, o.refuseClones, log)
	go col.Run(ctx)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("passkiosk-fleetd serving terminals", "listen", o.listen, "admin_api", o.adminCA != "", "refuse_clones", o.refuseClones)
	if err := srv.ListenAndServeTLS(o.tlsCert, o.tlsKey); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handlers are the terminals' API and, with adminCA, the admin API, each
// for the certificates of its own CA, and the pool the TLS handshake
// accepts: both CAs.
func handlers(o fleetadmin.Options, termCA, adminCA string) (http.Handler, *x509.CertPool, error) {
	terms, err := certPool(termCA)
	if err != nil {
		return nil, nil, err
	}
	if adminCA == "" {
		return fleet.Handler(o.Dir, o.Log), terms, nil
	}
	admins, err := certPool(adminCA)
	if err != nil {
		return nil, nil, err
	}
	both, _ := certPool(termCA)
	if err := appendPEM(both, adminCA); err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	o.AdminCAs = admins
	mux.Handle(fleetapi.PathPrefix, fleetadmin.Handler(o))
	mux.Handle("/", onlyFrom(terms, fleet.Handler(o.Dir, o.Log)))
	return mux, both, nil
}

// onlyFrom passes on requests whose client certificate verifies against
// pool (a terminal's, not an administrator's).
func onlyFrom(pool *x509.CertPool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "a terminal's client certificate is required", http.StatusForbidden)
			return
		}
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			http.Error(w, "this API is for terminals: the certificate is not signed by --terminal-ca", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func appendPEM(pool *x509.CertPool, file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	return nil
}

// certPool reads the PEM certificates of file.
func certPool(file string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	return pool, appendPEM(pool, file)
}

// collector archives every terminal's shipped audit entries in dir and
// passes them to the admin API's follows (feed); its alarms go to the
// log.
func collector(cl *clientv3.Client, dir string, feed *fleetadmin.Feed, log *slog.Logger) (*collect.Collector, error) {
	return collect.New(cl, collect.Options{Dir: dir, Spikes: collect.DefaultThresholds, Archived: feed.Publish,
		Alarm: func(a collect.Alarm) {
			log.Error("audit alarm", "event", a.Event.String(), "terminal", a.Terminal, "seq", a.Seq, "reason", a.Reason, "message", a.Message)
		},
		Logger: log.With("part", "audit collector")})
}

// detect runs clone detection until ctx ends, starting again a second
// after it stops (a lost leader, a member going away).
func detect(ctx context.Context, cl *clientv3.Client, refuse bool, log *slog.Logger) {
	for ctx.Err() == nil {
		d := &fleet.Detector{Client: cl, Refuse: refuse, Log: log}
		if err := d.Run(ctx); err != nil && ctx.Err() == nil {
			log.Warn("clone detection stopped; starting again", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
