package engine

import (
	"testing"

	"passkiosk/kiosk"
)

// A key that ignores the exclude list hands back the credential the
// person registered with it before. The engine does not trust the key to
// refuse: the same credential is not registered twice, the person is told
// this key is already theirs, and the enrollment code is not spent.
func TestEnrollRefusesACredentialThePersonAlreadyHas(t *testing.T) {
	h := newHarness(t)
	k := newKey("k1", "1234", false)
	h.enrollKey(k, alice, "C1")
	before, err := h.store.Credentials(alice.ID)
	if err != nil || len(before) != 1 {
		t.Fatalf("after the first enrollment: %d credentials, %v", len(before), err)
	}

	k.IgnoreExclude = true
	h.issueCode("C2", alice)
	h.e.StartEnrollment("C2")
	h.waitPrompt(kiosk.PromptEnrollChoose)
	h.e.ChooseAttachment(kiosk.AttachRoaming)
	h.waitPrompt(kiosk.PromptInsertKey)
	h.keys.Plug(k)
	h.waitPrompt(kiosk.PromptPIN)
	h.e.EnterPIN([]byte(pinOf(k)))
	v := h.waitNotice(kiosk.NoticeAlreadyRegistered)
	if v.Notice.Kind != kiosk.KindExcluded {
		t.Fatalf("notice %+v", v.Notice)
	}
	after, _ := h.store.Credentials(alice.ID)
	if len(after) != 1 {
		t.Fatalf("the same credential was registered again: %d credentials", len(after))
	}
	if !h.hasAudit(kiosk.EventEnrollFailed, kiosk.KindExcluded.String()) || h.hasAuditCount(kiosk.EventEnrolled, "ok") != 1 {
		t.Fatalf("audit: %v", h.auditTypes())
	}
	if _, err := h.store.RedeemEnrollmentCode("C2", h.clock.Now()); err != nil {
		t.Fatalf("the refused enrollment spent the code: %v", err)
	}
}

func (h *harness) hasAuditCount(typ kiosk.Event, outcome string) int {
	n := 0
	for _, e := range h.audited() {
		if e.Type == typ && e.Outcome == outcome {
			n++
		}
	}
	return n
}
