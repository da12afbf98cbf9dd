//go:build race

package store_test

// Under the race detector every child process starts several times slower;
// tests that spawn hundreds of them scale down.
func init() { raceBuild = true }
