// Package e2e holds the appliance's end-to-end tests: the sign-in engine
// on its production components — the bbolt store on disk, TPM passkeys on
// a real swtpm process, security keys through the real libfido2 (a virtual
// key presented as a hidraw device by umockdev), and isolated sessions of
// real child processes. Only the window is missing; the screens have their
// own tests, and `make screenshots` drives the whole program.
package e2e
