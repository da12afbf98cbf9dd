// Package sessiontest holds test implementations of the session package's
// ports: an in-memory and a file-backed Journal, a fake Clock and a fake
// IdleSource. The engine's tests use them too. Test support only: the
// appliance wires the store's journal and the real clock.
package sessiontest
