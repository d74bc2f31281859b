package trigger

import (
	"fmt"
	"time"

	// Embed the IANA database so zones resolve on hosts without tzdata.
	_ "time/tzdata"
)

// Trigger yields the fire times of one schedule.
//
// Implementations are immutable, deterministic (a pure function of the spec,
// the anchor and the tzdata they were compiled with; no clock reads) and safe
// for concurrent use.
type Trigger interface {
	// Next returns the first fire time strictly after t, and ok=false when the
	// trigger will never fire again. Never returns the zero time when ok.
	// Fire times lie in (0001-01-01T00:00:00Z, 9999-12-31T23:59:59.999999999Z];
	// an earlier t is treated as the zero time and a fire time past the end of
	// year 9999 reports ok=false. Compare results with Time.Equal: cron
	// triggers return times in their zone, every and at triggers in UTC.
	Next(t time.Time) (next time.Time, ok bool)
}

// Compile-time checks.
var (
	_ Trigger = (*Cron)(nil)
	_ Trigger = (*Every)(nil)
	_ Trigger = (*At)(nil)
)

var (
	// minTime is the zero Time; no trigger fires at or before it.
	minTime = time.Time{}
	// maxTime is the last instant a trigger may fire at.
	maxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999999999, time.UTC)
)

// Compile validates spec and returns its Trigger. anchor aligns `every`
// triggers: fires are anchor + k*interval (k integer, may be negative), so they
// never drift. A zero anchor means the Unix epoch. anchor is ignored for cron
// and at.
//
// Invalid input yields a *FieldError.
func Compile(spec Spec, anchor time.Time) (Trigger, error) {
	if err := checkShape(spec); err != nil {
		return nil, err
	}
	var (
		trig Trigger
		err  error
	)
	// Assign through typed results so that a nil *Cron never becomes a
	// non-nil Trigger.
	switch spec.Kind() {
	case "cron":
		var loc *time.Location
		if loc, err = loadZone(spec.Timezone); err == nil {
			trig, err = asTrigger(compileCron(spec.Cron, loc))
		}
	case "every":
		trig, err = asTrigger(compileEvery(spec.Every, anchor))
	default:
		trig, err = asTrigger(compileAt(spec.At))
	}
	return trig, err
}

// asTrigger converts a typed (trigger, error) pair, dropping the trigger on
// error.
func asTrigger[T Trigger](t T, err error) (Trigger, error) {
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Validate is Compile without an anchor; used by the API at create time.
func Validate(spec Spec) error {
	_, err := Compile(spec, time.Time{})
	return err
}

// checkShape enforces "exactly one kind" and "timezone only with cron".
func checkShape(spec Spec) error {
	n := 0
	for _, v := range []string{spec.Cron, spec.Every, spec.At} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return fieldErr(fieldTrigger, "exactly one of cron, every or at must be set")
	}
	if spec.Timezone != "" && spec.Cron == "" {
		return fieldErr(fieldTimezone, "timezone is only allowed with cron")
	}
	return nil
}

// loadZone resolves an IANA zone name; "" means UTC. "Local" is refused:
// a schedule must never depend on the zone of the server evaluating it.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fieldErr(fieldTimezone, `"Local" is not allowed; use an IANA zone name such as "Europe/Paris"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fieldErr(fieldTimezone, fmt.Sprintf("unknown time zone %q", name))
	}
	return loc, nil
}
