package store

// Bucket and key names, all in one place so the layout drawn in doc.go can be
// checked against a single file. Changing anything here is a schema change:
// it needs a migration and a new drawing.
var (
	bucketMeta        = []byte("meta")
	bucketUsers       = []byte("users")
	bucketCredentials = []byte("credentials")
	bucketCredByUser  = []byte("cred-by-user") // schema 2
	bucketPolicy      = []byte("policy")
	bucketEnroll      = []byte("enroll-codes")
	bucketSessions    = []byte("sessions")
	bucketAudit       = []byte("audit")
	// Created by their first write, not by a migration: an absent one
	// reads as empty, so files of schema 2 need no upgrade to gain them
	// (pintries.go).
	bucketPINTries = []byte("pin-tries")
	bucketTPM      = []byte("tpm")

	// Keys in tpm.
	keyLockoutAuth = []byte("lockout-auth")

	// Keys in meta.
	keySchema      = []byte("schema")
	keyAuditHead   = []byte("audit-head")
	keyAuditAnchor = []byte("audit-anchor")
)

// topBuckets are the buckets migration 1 creates, in drawing order.
var topBuckets = [][]byte{
	bucketMeta, bucketUsers, bucketCredentials, bucketPolicy, bucketEnroll,
	bucketSessions, bucketAudit,
}

// Failed sign-ins had a bucket of their own, with a sub-bucket per
// subject kind, until the engine came to count them from the audit log:
// migration 1 makes it and migration 3 drops it.
var (
	bucketAttempts    = []byte("attempts")
	bucketAttemptKind = [][]byte{[]byte("user"), []byte("credential"), []byte("terminal")}
)
