package ui

import (
	"time"

	"passkiosk/ui/i18n"
)

// Options configure the screens.
type Options struct {
	// Language is a language or locale name ("en", "de_DE.UTF-8"); empty
	// means English.
	Language string
	// ClockFormat is a Go time layout for the clock; empty means "15:04".
	ClockFormat string
	// Now is the clock the screens read; nil means time.Now. Tests pass a
	// fixed clock so goldens are stable.
	Now func() time.Time
	// HelpContact is how to reach IT ("ext. 4357"), shown where a message
	// says to call IT; empty to say just "Call IT."
	HelpContact string
	// ProgramName is the session program's name for "Start … again"; empty
	// for a generic label.
	ProgramName string
	// Demo, when set, shows the virtual security key's panel beside the
	// screens.
	Demo DemoKeyControl
	// EnrollCodeTimeout bounds how long the enrollment code screen opened
	// from the lock screen waits for input before going back; zero means
	// two minutes. Nothing on these screens waits forever.
	EnrollCodeTimeout time.Duration
}

func (o *Options) fill() error {
	if o.ClockFormat == "" {
		o.ClockFormat = "15:04"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.EnrollCodeTimeout <= 0 {
		o.EnrollCodeTimeout = 2 * time.Minute
	}
	_, err := i18n.Load(o.Language)
	return err
}
