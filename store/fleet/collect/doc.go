// Package collect is the fleet service's side of audit shipping: it
// takes every terminal's shipped entries out of etcd (package ship puts
// them there), verifies each terminal's chain, appends it to an archive
// on disk and then deletes what it archived from etcd, which is a buffer
// and not the archive. It searches the archive and watches it for
// failure spikes across the fleet.
//
// # The archive
//
// One append-only file per terminal, <dir>/<fleet name>.jsonl, holding
// the entries as auditfile.Entry JSON lines (the export's line format,
// without a header), so `auditfile.Verify` (and passkioskctl's audit
// verify) checks each file as it stands. A batch is appended and
// fsynced before its entries are deleted from etcd; on restart each file
// is verified whole, a last line left unfinished by a crash is cut off
// (its entries are still in etcd), and collection resumes after the last
// archived entry. Entries etcd still holds at or before it (a delete that
// failed) are compared byte for byte with the archive and deleted.
//
// # Verification
//
// Each entry passes the checks auditfile.Verify makes on a line:
// canonical CBOR, sequence number equal to its key's, hash equal to
// SHA-256(prev ‖ body), prev equal to the archived entry before it, and
// no gap in the sequence. The first archived entry of a terminal without
// an archive is taken as its start (entry 1 must follow the genesis). An
// entry that fails any check, or an entry at or before the archive's
// last that differs from the archived one (a fork), stops that terminal's
// archive at the last good entry, logs an error and raises an Alarm
// (kiosk.EventAuditChainBroken); the refused entries stay in etcd for
// inspection. Nothing is skipped: a stopped terminal stays stopped until
// the collector is restarted after IT has dealt with it.
//
// # Spikes
//
// Every archived failed sign-in counts against its person (across
// terminals), its terminal and its site (the site of IT's dir/terminals/<name>
// record); Thresholds says when a count is a spike, and each spike is an
// Alarm (kiosk.EventFailureSpike). Counts start empty at each start.
//
// # Wiring
//
// The fleet service runs one collector on a client whose role may read
// /passkiosk/v1/term/ and /passkiosk/v1/dir/terminals/ and delete under
// /passkiosk/v1/term/:
//
//	col, err := collect.New(client, collect.Options{Dir: "/var/lib/passkiosk-fleetd/audit",
//		Spikes: collect.DefaultThresholds, Alarm: raise, Archived: forward, Logger: logger})
//	if err != nil { ... }
//	defer col.Close()
//	go col.Run(ctx) // returns ctx's error when ctx ends
//
// col.Search answers the admin tool's audit queries, col.Status its
// per-terminal view; Alarm is where chain breaks and spikes reach the
// service's own audit log and the SIEM, Archived where archived entries
// are forwarded.
//
// The package uses the etcd client module only, and must not import
// fyne, go-tpm, go-libfido2 or the store.
package collect
