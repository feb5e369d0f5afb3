package schemas

import "time"

// JSONTime reports whether time.Time's MarshalJSON can write t: a year
// from 0000 to 9999 and a zone offset under a day, in t's own zone (it
// then writes RFC 3339 with nanoseconds).
func JSONTime(t time.Time) bool {
	_, off := t.Zone()
	y := t.Year()
	return y >= 0 && y <= 9999 && off > -24*3600 && off < 24*3600
}

// ValidEventTime reports whether t can be a time of a message on the log:
// writable as it is and in UTC, as every consumer writes it. An offset can
// carry "9999-12-31T23:59:59-23:59" into the year 10000 in UTC, which no
// record can hold; the gateway, the user API and identity refuse such a
// time.
func ValidEventTime(t time.Time) bool { return JSONTime(t) && JSONTime(t.UTC()) }
