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

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa(n int) string { return strconv.Itoa(n) }

func pct(n int) string { return strconv.Itoa(n) + "%" }
