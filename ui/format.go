package ui

import (
	"fmt"
	"time"
)

func (u *UI) clock(now time.Time) string { return now.Format(u.opts.ClockFormat) }

// date is the long date in the screen's language ("Wednesday 25 November");
// Go's time layouts only know English names.
func (u *UI) date(now time.Time) string {
	return u.tr.T("date",
		u.tr.T(fmt.Sprintf("day.%d", int(now.Weekday()))),
		now.Day(),
		u.tr.T(fmt.Sprintf("month.%d", int(now.Month()))))
}

// countdown is the time left until end as m:ss, or h:mm:ss from an hour
// up, rounded up so it never shows 0:00 while time remains.
func countdown(now, end time.Time) string {
	d := end.Sub(now)
	if d < 0 {
		d = 0
	}
	s := int64((d + time.Second - 1) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s%3600/60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
