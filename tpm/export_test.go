package tpm

import "github.com/google/go-tpm/tpm2/transport"

// TransportOf gives the package's external tests the transport of a TPM
// that Open made, so they can check for leaked handles
// (tpmtest.CheckNoHandles) on it. Commands sent through it wait for the
// TPM's lock, like the TPM's own.
func TransportOf(k *TPM) transport.TPM { return lockedTransport{k} }

type lockedTransport struct{ k *TPM }

func (l lockedTransport) Send(cmd []byte) ([]byte, error) {
	l.k.mu.Lock()
	defer l.k.mu.Unlock()
	return l.k.t.Send(cmd)
}

// CloseWithoutShutdown closes the transport as a crash would, without
// TPM2_Shutdown.
func (k *TPM) CloseWithoutShutdown() {
	k.mu.Lock()
	k.orderly = false
	k.mu.Unlock()
	k.Close()
}
