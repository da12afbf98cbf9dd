package config

import (
	"os"
	"testing"
)

// BenchmarkParsePolicy reads the example policy: what policy apply and
// the appliance's start pay per policy.
func BenchmarkParsePolicy(b *testing.B) {
	data, err := os.ReadFile("testdata/policy.toml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParsePolicy("policy.toml", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadConfig(b *testing.B) {
	for b.Loop() {
		if _, err := Load("testdata/passkiosk.toml"); err != nil {
			b.Fatal(err)
		}
	}
}
