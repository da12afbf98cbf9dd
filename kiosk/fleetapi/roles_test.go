package fleetapi

import (
	"strings"
	"testing"
	"time"
)

func TestAdminRecords(t *testing.T) {
	b, err := EncodeAdmin(Admin{Name: "alice", Role: RoleAuditor, Added: time.Unix(1, 0).UTC(), AddedBy: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := DecodeAdmin(b); err != nil || a.Role != RoleAuditor || a.Name != "alice" || a.AddedBy != "root" {
		t.Fatalf("round trip: %+v %v", a, err)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"unknown role", `{"v":1,"name":"a","role":"superuser","added":"2026-01-01T00:00:00Z","added_by":"r"}`, "superuser"},
		{"unknown field", `{"v":1,"name":"a","role":"admin","added":"2026-01-01T00:00:00Z","added_by":"r","sites":["x"]}`, "sites"},
		{"other version", `{"v":2,"name":"a","role":"admin","added":"2026-01-01T00:00:00Z","added_by":"r"}`, "version 2"},
		{"not JSON", `admin`, "administrator record"},
	} {
		if _, err := DecodeAdmin([]byte(tc.value)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := EncodeAdmin(Admin{Name: "", Role: RoleAdmin}); err == nil {
		t.Error("an administrator without a name was encoded")
	}
}
