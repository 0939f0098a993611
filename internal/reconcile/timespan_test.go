package reconcile

import (
	"testing"
	"time"
)

// TestConnectedDurationTimeSpan: getBgpPeerStatus's connectedDuration is
// written as .NET's TimeSpan, as Azure's is: hours below 24, the days in
// front of them (a session up 9 days and an hour is 9.01:04:53.5768637),
// so that a client reading it as a TimeSpan reads the time the session has
// been up.
func TestConnectedDurationTimeSpan(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "00:00:00.0000000"},
		{90*time.Minute + 1500*time.Millisecond, "01:30:01.5000000"},
		{24*time.Hour - time.Second, "23:59:59.0000000"},
		{24 * time.Hour, "1.00:00:00.0000000"},
		{9*24*time.Hour + time.Hour + 4*time.Minute + 53*time.Second + 576863700*time.Nanosecond, "9.01:04:53.5768637"},
	} {
		if got := timeSpan(c.d); got != c.want {
			t.Errorf("%v: %s, want %s", c.d, got, c.want)
		}
	}
}
