// Package spec reads schedule specs and computes their fire times: robfig/
// cron/v3 parses and matches the fields; which instants fire across DST is
// decided here. It is a leaf, so config checks specs with the same code
// that fires them.
package spec

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Spec is a parsed schedule: a cron expression in a time zone.
type Spec struct {
	// Expr is the expression as written, zone prefix removed.
	Expr string
	Loc  *time.Location
	// wall matches fields on the local wall clock (kept in UTC so no DST
	// rule of robfig's applies); every, for @every, is a fixed period.
	wall  cron.Schedule
	every time.Duration
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse reads a 5-field spec or a descriptor (@daily, @every 10s), with an
// optional "CRON_TZ=Zone " (or "TZ=Zone ") prefix; zone, when the prefix
// is absent, is the schedule's timezone key ("" is UTC). The error is one
// sentence for check-config.
func Parse(expr, zone string) (Spec, error) {
	s := strings.TrimSpace(expr)
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			name, spec, found := strings.Cut(rest, " ")
			if !found {
				return Spec{}, fmt.Errorf("%q names a zone but no schedule after it", expr)
			}
			zone, s = name, strings.TrimSpace(spec)
		}
	}
	loc, err := LoadZone(zone)
	if err != nil {
		return Spec{}, err
	}
	sched, err := parser.Parse(s)
	if err != nil {
		return Spec{}, fmt.Errorf("%q is not a schedule: five fields, minute (0-59) hour (0-23) day (1-31) month (1-12) weekday (0-6), like \"0 2 * * *\", or @daily, @hourly, @every 10s (%v)", expr, err)
	}
	out := Spec{Expr: s, Loc: loc}
	switch c := sched.(type) {
	case cron.ConstantDelaySchedule:
		out.every = c.Delay
	case *cron.SpecSchedule:
		c.Location = time.UTC
		out.wall = c
	default:
		return Spec{}, fmt.Errorf("%q is a kind of schedule mcloud does not know", expr)
	}
	return out, nil
}

// LoadZone is the time zone named zone ("" and "UTC" are UTC), or an error
// that says it is unknown.
func LoadZone(zone string) (*time.Location, error) {
	if zone == "" {
		return time.UTC, nil
	}
	if strings.EqualFold(zone, "local") {
		return nil, fmt.Errorf("zone %q depends on the machine; name one, like Europe/London", zone)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name like America/New_York or Europe/London", zone)
	}
	return loc, nil
}

// Zone is the spec's zone name.
func (s Spec) Zone() string { return s.Loc.String() }

// Next is the first fire time strictly after t. Fields are matched on the
// zone's wall clock, so a daily time fires once a day whatever DST does:
// a wall time a spring-forward skips fires at the first instant after the
// gap (02:30 on a day 02:00-03:00 does not exist fires at 03:00), and one a
// fall-back repeats fires at its first occurrence only. @every periods are
// fixed durations counted from the Unix epoch, so every replica computes
// the same fire times whenever it started.
func (s Spec) Next(t time.Time) time.Time {
	if s.every > 0 {
		d := s.every.Nanoseconds()
		n := t.UnixNano()
		return time.Unix(0, (n/d+1)*d).In(s.Loc)
	}
	wall := wallOf(t, s.Loc)
	for range 1000 { // each turn moves wall forward; a year's worth bounds it
		wall = s.wall.Next(wall)
		if wall.IsZero() {
			return time.Time{} // a spec that never matches (Feb 30)
		}
		if at := instantOf(wall, s.Loc); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// wallOf is t's local wall clock in loc, written as a UTC time.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// instantOf is the first instant at which loc's wall clock reads wall, or
// the first instant after it when a spring-forward skips wall.
func instantOf(wall time.Time, loc *time.Location) time.Time {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
	if wallOf(t, loc).Equal(wall) {
		// In a repeated hour Go may pick either occurrence; an hour
		// earlier reading the same wall time means the first was earlier.
		if e := t.Add(-time.Hour); wallOf(e, loc).Equal(wall) {
			return e
		}
		return t
	}
	// wall is in a gap, and Go normalised it to one side of it: the gap
	// ends where the zone period after it begins.
	start, end := t.ZoneBounds()
	if wallOf(t, loc).Before(wall) {
		return end
	}
	return start
}

// Times lists the fire times in (from, to], at most max of them; more
// reports whether there were more.
func (s Spec) Times(from, to time.Time, max int) (out []time.Time, more bool) {
	for t := s.Next(from); !t.IsZero() && !t.After(to); t = s.Next(t) {
		if len(out) == max {
			return out, true
		}
		out = append(out, t)
	}
	return out, false
}
