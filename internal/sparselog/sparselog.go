// Package sparselog says when a line about something that may come
// often (a refused connection, a failed Accept) is logged: once a minute
// at most, the others counted in the next line.
package sparselog

import "time"

// Every is how often a Log's line is logged at most.
const Every = time.Minute

// Log counts what is logged once a minute at most, the others counted in
// the next line. Its zero value is ready; its owner's lock guards it.
type Log struct {
	n      int       // counted since the last line
	logged time.Time // when the last line was logged
	total  uint64    // the total CountTo was given last
}

// Count counts k more.
func (l *Log) Count(k int) { l.n += k }

// CountTo counts what a counter that only grows, read by the owner, grew
// by since the last CountTo: for a data path that counts (atomically, for
// its metrics) and leaves the lines to a tick of the owner's.
func (l *Log) CountTo(total uint64) {
	if total > l.total {
		l.n += int(total - l.total)
	}
	l.total = total
}

// Rest returns what is counted and not yet logged, whatever Every says,
// and begins counting again: for the last line of something that goes.
func (l *Log) Rest() int {
	n := l.n
	l.n = 0
	return n
}

// Due reports whether a line is logged now, and how many it counts: some
// are counted and none was logged for Every. Then counting begins again.
func (l *Log) Due() (n int, log bool) { return l.DueAt(time.Now()) }

// DueAt is Due at now, for owners that read the time once for many Logs
// or keep a clock of their own.
func (l *Log) DueAt(now time.Time) (n int, log bool) {
	n = l.n
	if n == 0 || !l.logged.IsZero() && now.Sub(l.logged) < Every {
		return n, false
	}
	l.n, l.logged = 0, now
	return n, true
}

// Take is the tick of an owner whose data path counts in a counter that
// only grows: it counts to total (CountTo) and reports whether a line is
// logged and how many it counts, at now as DueAt says or, when last (the
// thing counted goes), whatever is counted, as Rest does.
func (l *Log) Take(total uint64, now time.Time, last bool) (n int, log bool) {
	l.CountTo(total)
	if last {
		n = l.Rest()
		return n, n > 0
	}
	return l.DueAt(now)
}
