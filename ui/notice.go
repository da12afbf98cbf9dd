package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"passkiosk/kiosk"
)

// severity decides a notice's icon and colour. Colour is never alone: the
// icon and the words say the same.
type severity uint8

const (
	sevError severity = iota
	sevWarning
	sevInfo
	sevSuccess
)

// noticeSeverity sorts the notices: failures the person must act on are
// errors; waits and ends are warnings, except a session the person ended
// themselves (signed out, touched their key), which is information; what
// went well is success.
func noticeSeverity(n *kiosk.Notice) severity {
	if n.Code == kiosk.NoticeSessionEnded && n.Cause.ByPerson() ||
		n.Code == kiosk.NoticeBackupNotConfirmed && n.Kind == kiosk.KindCancelled {
		return sevInfo
	}
	switch n.Code {
	case kiosk.NoticeTimedOut, kiosk.NoticeKeyRemoved, kiosk.NoticeTooManyAttempts,
		kiosk.NoticeFingerprintLocked, kiosk.NoticeSessionEnded, kiosk.NoticeBackupNotConfirmed:
		return sevWarning
	case kiosk.NoticeBackupSuggested, kiosk.NoticeAlreadyRegistered:
		return sevInfo
	case kiosk.NoticeEnrolled:
		return sevSuccess
	}
	return sevError
}

// noticeKeys is the translation key of every notice code, the base of a
// plural pair where the message counts tries. notice_test.go checks every
// code up to the last one kiosk defines has an entry here and a string in
// every language.
var noticeKeys = map[kiosk.NoticeCode]string{
	kiosk.NoticeWrongPIN:           "notice.wrong_pin",
	kiosk.NoticeReplugKey:          "notice.replug_key",
	kiosk.NoticeKeyBlocked:         "notice.key_blocked",
	kiosk.NoticeFingerprintFailed:  "notice.fingerprint_failed",
	kiosk.NoticeFingerprintLocked:  "notice.fingerprint_locked",
	kiosk.NoticePlatformLocked:     "notice.platform_locked",
	kiosk.NoticeUnknownKey:         "notice.unknown_key",
	kiosk.NoticeNotAllowed:         "notice.not_allowed",
	kiosk.NoticeTooManyAttempts:    "notice.too_many_attempts",
	kiosk.NoticeTimedOut:           "notice.timed_out",
	kiosk.NoticeKeyRemoved:         "notice.key_removed",
	kiosk.NoticeKeyProblem:         "notice.key_problem",
	kiosk.NoticeVerificationFailed: "notice.verification_failed",
	kiosk.NoticeBadEnrollmentCode:  "notice.bad_enrollment_code",
	kiosk.NoticePINMismatch:        "notice.pin_mismatch",
	kiosk.NoticePINTooShort:        "notice.pin_too_short",
	kiosk.NoticeSessionEnded:       "notice.session_ended",
	kiosk.NoticeEnrolled:           "notice.enrolled",
	kiosk.NoticeBackupSuggested:    "notice.backup_suggested",
	kiosk.NoticeTPMCleared:         "notice.tpm_cleared",
	kiosk.NoticeKeyNeedsPIN:        "notice.key_needs_pin",
	kiosk.NoticeAlreadyRegistered:  "notice.already_registered",
	kiosk.NoticeOutOfHours:         "notice.out_of_hours",
	kiosk.NoticePlatformSuspended:  "notice.platform_suspended",
	kiosk.NoticeBackupNotConfirmed: "notice.backup_not_confirmed",
}

// sessionCauses translates why a session ended (Notice.Cause); for any
// other cause the notice's Detail is shown as the engine wrote it.
var sessionCauses = map[kiosk.EndCause]string{
	kiosk.EndLogout:     "cause.signed_out",
	kiosk.EndIdle:       "cause.idle",
	kiosk.EndKeyRemoved: "cause.key_removed",
	kiosk.EndTimeLimit:  "cause.time_up",
	kiosk.EndAdmin:      "cause.admin",
	kiosk.EndKeyTapped:  "cause.key_tapped",
	kiosk.EndRevoked:    "cause.revoked",
}

// noticeText is the exact sentence for n at now. pinMin is the View's
// PINMinLength, for "too short".
func (u *UI) noticeText(n *kiosk.Notice, pinMin int, now time.Time) string {
	tr := u.tr
	key, ok := noticeKeys[n.Code]
	if !ok {
		return tr.T("notice.unknown")
	}
	switch n.Code {
	case kiosk.NoticeWrongPIN, kiosk.NoticeFingerprintFailed:
		if n.Tries >= 0 {
			return tr.N(key+"_tries", n.Tries)
		}
	case kiosk.NoticeKeyBlocked:
		return tr.T(key) + " " + u.callIT()
	case kiosk.NoticePlatformLocked:
		// The whole terminal waits for the TPM: say for how long, live,
		// and what to do meanwhile.
		text := tr.T(key)
		if !n.Until.IsZero() && n.Until.After(now) {
			mins := int((n.Until.Sub(now) + time.Minute - 1) / time.Minute)
			text = tr.T(key+"_until", tr.N("unit.minutes", mins), countdown(now, n.Until))
		}
		if n.OfferKey {
			return text + " " + tr.T(key+"_key")
		}
		return text + " " + tr.T(key+"_it") + " " + u.callIT()
	case kiosk.NoticePlatformSuspended:
		if n.OfferKey {
			return tr.T(key) + " " + tr.T(key+"_key")
		}
		return tr.T(key) + " " + tr.T(key+"_it") + " " + u.callIT()
	case kiosk.NoticeTooManyAttempts:
		if !n.Until.IsZero() && n.Until.After(now) {
			return tr.T(key+"_until", countdown(now, n.Until))
		}
	case kiosk.NoticeSessionEnded:
		if k, ok := sessionCauses[n.Cause]; ok {
			return tr.T(key+"_detail", tr.T(k))
		}
		if n.Detail != "" {
			return tr.T(key+"_detail", n.Detail)
		}
	case kiosk.NoticeNotAllowed, kiosk.NoticeOutOfHours:
		// A name with nothing to sign in with here (the engine's "not
		// found") is told how to get started, in plain words.
		if n.Code == kiosk.NoticeNotAllowed && n.Kind == kiosk.KindNotFound {
			return tr.T("notice.no_sign_in_here")
		}
		if n.Detail != "" {
			return tr.T(key+"_detail", n.Detail)
		}
	case kiosk.NoticePINTooShort:
		return tr.N(key, max(pinMin, 1))
	case kiosk.NoticeBackupNotConfirmed:
		return u.backupNotConfirmedText(key, n, now)
	}
	return tr.T(key)
}

func (u *UI) callIT() string {
	if u.opts.HelpContact == "" {
		return u.tr.T("help.call_nocontact")
	}
	return u.tr.T("help.call", u.opts.HelpContact)
}

// noticeBox shows a notice as an icon and words, coloured by severity. A
// notice that counts down (Until) is refreshed by Tick.
func (u *UI) noticeBox(n *kiosk.Notice, pinMin int) fyne.CanvasObject {
	return u.noticeBoxW(n, pinMin, textWidth)
}

func (u *UI) noticeBoxW(n *kiosk.Notice, pinMin int, width float32) fyne.CanvasObject {
	if n == nil || n.Code == kiosk.NoticeNone {
		return gap(0)
	}
	var res fyne.Resource
	var imp widget.Importance
	switch noticeSeverity(n) {
	case sevError:
		res, imp = theme.ErrorIcon(), widget.DangerImportance
	case sevWarning:
		res, imp = theme.WarningIcon(), widget.WarningImportance
	case sevInfo:
		res, imp = theme.InfoIcon(), widget.MediumImportance
	case sevSuccess:
		res, imp = theme.ConfirmIcon(), widget.SuccessImportance
	}
	l := widget.NewLabel("")
	l.SizeName = theme.SizeNameSubHeadingText
	l.TextStyle.Bold = true
	l.Importance = imp
	notice := *n
	const iconSide = 56
	textW := width - iconSide - theme.Padding()
	l.Text = u.addLive(l.SetText, func(now time.Time) string { return wrapLabel(l, u.noticeText(&notice, pinMin, now), textW) })
	// A short message sits centred under the title rather than at the
	// left edge of a wide box; the slack lets a countdown in it grow.
	const slack = 24
	if w := l.MinSize().Width + iconSide + theme.Padding() + slack; w < width {
		width = w
	}
	return container.NewCenter(sized(width, 0,
		container.NewBorder(nil, nil, container.NewCenter(sized(iconSide, iconSide, widget.NewIcon(res))), nil, l)))
}

// notice is the message to show: the local one when set, else the View's.
func (u *UI) notice(v kiosk.View) *kiosk.Notice {
	if u.localNotice != nil {
		return u.localNotice
	}
	return v.Notice
}
