// Package storeport adapts the database (package store) to the ports the
// rest of the appliance is written against: the engine's kiosk.Store
// (Records), the session manager's session.Journal (Journal), and the
// admin API's admin.Store (Admin). Packages under kiosk/ may not import
// bbolt, so these adapters live beside the store, and cmd/passkiosk wires
// them in. Maintain is the appliance's retention: it prunes the audit log,
// the session journal and enrollment codes as configured.
//
// Every method of Records and Journal, and Maintain, works on a nil *store.DB and fails
// with kiosk.KindStoreCorrupt: the appliance then runs out of service
// rather than crash.
package storeport
