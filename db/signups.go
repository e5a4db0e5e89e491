package db

// The dashboard's signups chart: its ranges and bars.

import (
	"context"
	"time"
)

// SignupRange is a span of the signups chart and the size of its bars.
type SignupRange string

// The chart's ranges: days for 30 or 90 days, weeks for a year, months for
// all time.
const (
	Range30Days SignupRange = "30d"
	Range90Days SignupRange = "90d"
	RangeYear   SignupRange = "1y"
	RangeAll    SignupRange = "all"
)

// SignupRanges lists the ranges in the order the selector offers them.
var SignupRanges = []SignupRange{Range30Days, Range90Days, RangeYear, RangeAll}

// PeriodCount is how many users signed up in one bar of the chart: the
// period that starts at Start (a UTC day, week or month).
type PeriodCount struct {
	Start time.Time `db:"start"`
	Users int64     `db:"users"`
}

// Signups returns the signups chart for r, oldest bar first, with a bar for
// every period including those without signups. Weeks start on Monday.
func (s *Store) Signups(ctx context.Context, r SignupRange) ([]PeriodCount, error) {
	_, series, err := s.Dashboard(ctx, r)
	return series, err
}

// bars is the unit of r's bars and how many there are (0: every period from
// the first signup on).
func (r SignupRange) bars() (unit string, periods int, err error) {
	switch r {
	case Range30Days:
		return "day", 30, nil
	case Range90Days:
		return "day", 90, nil
	case RangeYear:
		return "week", 52, nil
	case RangeAll:
		return "month", 0, nil
	}
	return "", 0, invalid("range", "is not a chart range")
}

// stepBar moves t by n bars of unit.
func stepBar(unit string, t time.Time, n int) time.Time {
	switch unit {
	case "week":
		return t.AddDate(0, 0, 7*n)
	case "month":
		return t.AddDate(0, n, 0)
	}
	return t.AddDate(0, 0, n)
}
