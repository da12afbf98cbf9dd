package tpm

import (
	"context"

	"passkiosk/fido/cbor"
	"passkiosk/kiosk"

	"github.com/google/go-tpm/tpm2"
)

func (k *TPM) attestLocked(ctx context.Context, blobs *KeyBlobs, pub *tpm2.TPMTPublic, authData []byte, cdh [32]byte) (cbor.RawMessage, error) {
	return nil, kiosk.Errorf(kiosk.KindPolicy, "tpm attest", "not yet")
}
