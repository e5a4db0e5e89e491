package views

import (
	"strconv"
	"strings"
	"time"
)

// Thousands writes n with comma separators: 1234567 → "1,234,567".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// RangeText is the "41–60" part of "41–60 of 1,234".
func RangeText(from, to int) string {
	return Thousands(int64(from)) + "–" + Thousands(int64(to))
}

// timeLayout is how the panel prints a moment: unambiguous, sortable, UTC.
const timeLayout = "2006-01-02 15:04 UTC"

func when(t time.Time) string { return t.UTC().Format(timeLayout) }

// whenSeconds is when with the seconds, for the audit log, where the order
// of events a few seconds apart matters.
func whenSeconds(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// TimeText is how a moment reads in running text, such as an audit row's
// details: the same format as every other time the panel shows.
func TimeText(t time.Time) string { return when(t) }

func whenPtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return when(*t)
}

// relative says how far t is from now in the largest unit that fits:
// "just now", "5 min ago", "3 h ago", "2 d ago", "in 6 d".
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		s = strconv.Itoa(int(d/time.Hour)) + " h"
	case d < 60*24*time.Hour:
		s = strconv.Itoa(int(d/(24*time.Hour))) + " d"
	case d < 2*365*24*time.Hour:
		s = strconv.Itoa(int(d/(30*24*time.Hour))) + " months"
	default:
		s = strconv.Itoa(int(d/(365*24*time.Hour))) + " years"
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// ago is relative to the moment the page is drawn.
func ago(t time.Time) string { return relative(t, time.Now()) }

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa(n int) string { return strconv.Itoa(n) }

func pct(n int) string { return strconv.Itoa(n) + "%" }
