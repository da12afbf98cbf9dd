package kiosk

// knownModels names a few widespread security-key models by their AAGUID
// (from the vendors' published metadata), so the audit log and the admin
// tool can say "YubiKey 5 NFC" rather than a 32-digit number. A model not
// listed is shown by the start of its AAGUID.
var knownModels = map[AAGUID]string{
	mustAAGUID("cb69481e-8ff7-4039-93ec-0a2729a154a8"): "YubiKey 5",
	mustAAGUID("ee882879-721c-4913-9775-3dfcce97072a"): "YubiKey 5",
	mustAAGUID("fa2b99dc-9e39-4257-8f92-4a30d23c4118"): "YubiKey 5 NFC",
	mustAAGUID("2fc0579f-8113-47ea-b116-bb5a8db9202a"): "YubiKey 5 NFC",
	mustAAGUID("c5ef55ff-ad9a-4b9f-b580-adebafe026d0"): "YubiKey 5Ci",
	mustAAGUID("d8522d9f-575b-4866-88a9-ba99fa02f35b"): "YubiKey Bio",
	mustAAGUID("149a2021-8ef6-4133-96b8-81f8d5b7f1f5"): "Security Key NFC by Yubico",
	mustAAGUID("42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3"): "Google Titan Security Key",
	mustAAGUID("7a1e5c0d-2b44-4f8e-9d31-6a0c5117e293"): "passkiosk virtual key",
}

func mustAAGUID(s string) AAGUID {
	a, err := ParseAAGUID(s)
	if err != nil {
		panic(err)
	}
	return a
}

// Model names the authenticator model, or returns "" when it is not one
// of the few this program knows.
func (a AAGUID) Model() string { return knownModels[a] }
