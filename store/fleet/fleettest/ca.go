package fleettest

import "testing"

// NewCA makes a certificate authority in dir without a cluster, for tests
// that start members of their own (real etcd or passkiosk-fleetd
// processes): it signs their server certificates and their clients'.
func NewCA(t testing.TB, dir string) *CA { return newCA(t, dir) }
