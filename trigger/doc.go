// Package trigger owns what a schedule's trigger means: it validates the
// user's trigger spec and turns it into a pure function from an instant to the
// next fire time. It does no I/O, reads no clock and keeps no state, so the
// leader can evaluate it deterministically and record the result in the log.
//
// # Kinds
//
// A Spec sets exactly one of:
//
//   - cron: a cron expression in an IANA zone (Timezone, default "UTC"; the
//     server's local zone is never used). Five fields (minute hour
//     day-of-month month day-of-week), or six with a leading seconds field;
//     @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly;
//     month and weekday names; L (last day of the month) and L-n (n days
//     before it) in day-of-month. Day-of-month and day-of-week are OR'ed when
//     both are restricted and AND'ed when either is `*` (Vixie cron).
//   - every: a Go duration of at least one second, firing at anchor + k*every
//     for every integer k. It measures absolute time, so it ignores DST and
//     never drifts.
//   - at: one RFC 3339 instant.
//
// # DST rules for cron
//
// A cron expression selects local wall-clock times; each becomes instants as
// follows (semantics.md, "dst_gap: shift" and "dst_fold: auto"):
//
//   - Gap (the wall time does not exist): it fires at the wall time read with
//     the offset in force before the gap, i.e. shifted forward by the gap's
//     length. 02:30 on the New York spring-forward day fires at 03:30 EDT.
//   - Fold (the wall time occurs twice): if the hour field is restricted
//     (anything but all 24 hours), only the first occurrence fires, so a daily
//     01:30 job runs once. If the hour field is `*`, both occurrences fire, so
//     `*/20 * * * *` keeps its cadence through the repeated hour.
//   - An instant produced twice (a shifted gap time equal to a real time)
//     fires once: Next is strictly increasing.
//
// robfig/cron/v3 is used only to parse fields into bitmasks; Next is our own
// (robfig skips gap times, doubles fold times, searches only five years and
// returns the zero time). Next searches at least one 400-year Gregorian cycle,
// so Feb 29 (8 years apart at most) always works, and Compile rejects an
// expression that matches no date in a whole cycle, such as `0 0 30 2 *`.
// TZ= and CRON_TZ= prefixes are rejected: the zone belongs in Timezone.
//
// Zone rules come from the host's tzdata or, when it has none, from the copy
// embedded by importing time/tzdata.
//
// # Usage
//
//	if err := trigger.Validate(spec); err != nil {
//		var fe *trigger.FieldError
//		if errors.As(err, &fe) {
//			// report fe.Field and fe.Message to the client
//		}
//	}
//	trig, err := trigger.Compile(spec, anchor)
//	...
//	next, ok := trig.Next(hwm) // first fire strictly after hwm
//	if !ok {
//		// the schedule is complete
//	}
package trigger
