// Package ship sends a terminal's hash-chained audit log to the fleet's
// etcd cluster, in order, without loss and without duplicates.
//
// Every entry goes to /passkiosk/v1/term/<name>/audit/<seq> as the CBOR
// the store keeps (auditfile.Wire, Hash included), and the terminal's
// shipped head, term/<name>/audit-head, names the newest one (package
// fleet, audit.go). One batch is one etcd transaction:
//
//	if   audit-head holds the head read before (or is absent, for the first)
//	and  no key of the batch exists
//	then put every entry of the batch and the new head
//	else read audit-head and the batch's keys
//
// so a batch lands whole or not at all, a retry after an answer that got
// lost cannot write anything twice, and two shippers under one name
// cannot interleave. A batch holds at most 127 entries: etcd refuses a
// transaction with more than --max-txn-ops (128 by default) comparisons
// or operations, and a batch needs one of each per entry plus one for
// the head (TestBatchLimitIsWhatEtcdAccepts measures it). It also stays
// under 1 MiB, below etcd's default --max-request-bytes of 1.5 MiB.
//
// The shipper resumes from the head as the cluster has it, whatever the
// length of the outage: it reads the head again after every failure and
// continues with the local entry after it. It wakes on the store's
// Written channel, not by polling, and retries failures with backoff.
//
// # Forks
//
// The terminal's chain must continue the head it shipped. When it does
// not, the shipper stops, logs an error and appends kiosk.EventAuditFork
// to the terminal's own log (once per fork) with what differs in its
// detail:
//   - "behind": the local head is older than the shipped one (the store
//     was restored from a backup);
//   - "differs": the local entry at or after the shipped head does not
//     continue it (restored, then new entries written);
//   - "exists": an entry of the batch is already in the cluster with
//     other bytes (another terminal ships under this name);
//   - "pruned": entries after the shipped head were pruned locally before
//     they were shipped: they are lost to the fleet.
//
// It also puts the fork under term/<name>/audit-fork, where the fleet's
// collector raises the alarm for IT, and checks again every
// Options.ForkRecheck, so an IT fix in the cluster
// (a new name for the terminal) is picked up without a restart.
//
// # Wiring
//
// The appliance runs one shipper beside the fleet agent, on the same
// client (every endpoint, the terminal's certificate; its role already
// may write term/<name>/):
//
//	sh, err := ship.New(db, client, ship.Options{Name: cfg.Fleet.Name, Logger: logger})
//	if err != nil { ... }
//	go sh.Run(ctx) // returns ctx's error when ctx ends
//
// sh.Status() says how far the cluster has the log (Shipped), whether
// the last request worked (Online) and why shipping stopped (Fork), for
// `passkioskctl status`. Retention should keep entries after Shipped.
//
// The package uses the etcd client module only, and must not import
// fyne, go-tpm or go-libfido2.
package ship
