// Package sessiontest holds test implementations of the session package's
// ports: an in-memory and a file-backed Journal and a fake IdleSource
// (the fake clock is kiosktest.Clock). Test support only: the
// appliance wires the store's journal and the real clock.
package sessiontest
