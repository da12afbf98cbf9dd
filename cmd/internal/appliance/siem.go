package appliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"passkiosk/store/syslog"
)

// forwardToSyslog sends the audit log to the configured collector until
// ctx ends (nothing when none is configured). Entries wait in the audit
// log while the collector is away; the cursor in the state folder says
// which arrived.
func (a *Appliance) forwardToSyslog(ctx context.Context) error {
	s := a.cfg.SIEM
	if s.Syslog == "" || a.db == nil {
		return nil
	}
	host, _, _ := net.SplitHostPort(s.Syslog)
	var tc *tls.Config
	if s.SyslogTLS {
		tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if s.SyslogCA != "" {
			pem, err := os.ReadFile(s.SyslogCA)
			if err != nil {
				return fmt.Errorf("siem.syslog_ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("siem.syslog_ca %s holds no PEM certificate", s.SyslogCA)
			}
		}
	}
	hostname, _ := os.Hostname()
	f := &syslog.Forwarder{Addr: s.Syslog, TLS: tc, Hostname: hostname, App: "passkiosk",
		Cursor: filepath.Join(a.cfg.StateDir, "syslog.cursor"), Source: a.db.Events, Log: a.log}
	go f.Run(ctx)
	a.log.Info("audit entries are forwarded to a syslog collector", "addr", s.Syslog, "tls", s.SyslogTLS)
	return nil
}
