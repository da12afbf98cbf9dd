package admin_test

import (
	"context"
	"testing"

	"passkiosk/kiosk/admin"
)

// BenchmarkCallStatus is one admin round trip: connect, peer check,
// request, status from the engine and the store, response.
func BenchmarkCallStatus(b *testing.B) {
	a := newApplianceB(b)
	c := &admin.Client{Socket: a.sock}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		var st admin.Status
		if err := c.Call(ctx, admin.CmdStatus, nil, &st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallUsersAdd is an audited change through the socket: one
// fsynced store transaction per call.
func BenchmarkCallUsersAdd(b *testing.B) {
	a := newApplianceB(b)
	c := &admin.Client{Socket: a.sock}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if err := c.Call(ctx, admin.CmdUsersAdd, admin.UserAddArgs{Name: "user" + itoa(i)}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var s []byte
	for ; i > 0; i /= 10 {
		s = append([]byte{digits[i%10]}, s...)
	}
	return string(s)
}
