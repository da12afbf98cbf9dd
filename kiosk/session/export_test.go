package session

// StartXvfb runs a real X server with access control on, for the tests
// of package session_test (x11_test.go).
var StartXvfb = startXvfb
