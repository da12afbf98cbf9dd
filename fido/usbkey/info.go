package usbkey

/*
#include <fido.h>
*/
import "C"

import (
	"context"
	"unsafe"

	"passkiosk/fido"
)

// Info is what a key says about itself in authenticatorGetInfo (CTAP 2.1
// §6.4), as far as the appliance cares.
type Info struct {
	Versions     []string
	Extensions   []string
	AAGUID       fido.AAGUID
	Options      map[string]bool
	PINProtocols []int
}

// HasFingerprint reports a built-in user verification method, such as a
// fingerprint sensor, with something enrolled ("uv": true).
func (i *Info) HasFingerprint() bool { return i.Options["uv"] }

// PINSet reports whether the key has a PIN ("clientPin": true).
func (i *Info) PINSet() bool { return i.Options["clientPin"] }

// Info reads the key's authenticatorGetInfo.
func (d *Device) Info(ctx context.Context) (*Info, error) {
	var info *Info
	err := d.run(ctx, "get info", func(s *session) error {
		var code C.int
		info, code = readInfo(s)
		return d.fail(s, "get info", int(code))
	})
	return info, err
}

func readInfo(s *session) (*Info, C.int) {
	ci := C.fido_cbor_info_new()
	if ci == nil {
		return nil, C.FIDO_ERR_INTERNAL
	}
	defer C.fido_cbor_info_free(&ci)
	if r := C.fido_dev_get_cbor_info(s.handle(), ci); r != C.FIDO_OK {
		return nil, r
	}
	info := &Info{Options: make(map[string]bool)}
	info.Versions = goStrings(C.fido_cbor_info_versions_ptr(ci), C.fido_cbor_info_versions_len(ci))
	info.Extensions = goStrings(C.fido_cbor_info_extensions_ptr(ci), C.fido_cbor_info_extensions_len(ci))
	aaguid := goBytes(C.fido_cbor_info_aaguid_ptr(ci), C.fido_cbor_info_aaguid_len(ci))
	if len(aaguid) != len(info.AAGUID) {
		return nil, C.FIDO_ERR_RX_INVALID_CBOR
	}
	copy(info.AAGUID[:], aaguid)
	names := goStrings(C.fido_cbor_info_options_name_ptr(ci), C.fido_cbor_info_options_len(ci))
	if n := len(names); n > 0 {
		vals := unsafe.Slice(C.fido_cbor_info_options_value_ptr(ci), n)
		for i, name := range names {
			info.Options[name] = bool(vals[i])
		}
	}
	for _, p := range goBytes(C.fido_cbor_info_protocols_ptr(ci), C.fido_cbor_info_protocols_len(ci)) {
		info.PINProtocols = append(info.PINProtocols, int(p))
	}
	return info, C.FIDO_OK
}

func goStrings(p **C.char, n C.size_t) []string {
	if p == nil || n == 0 {
		return nil
	}
	out := make([]string, 0, int(n))
	for _, s := range unsafe.Slice(p, int(n)) {
		out = append(out, goString(s))
	}
	return out
}
