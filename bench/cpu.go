package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 per second for user space on every architecture.
const clockTick = 10 * time.Millisecond

// maxTicks bounds a CPU time read from stat (about 21 years), so that sums
// of them cannot overflow a time.Duration.
const maxTicks = 1 << 36

// cpuTime returns the user plus system time the processes have used so
// far, all their threads included, from /proc/<pid>/stat.
func cpuTime(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, fmt.Errorf("cpu time of process %d: %w", pid, err)
		}
		d, err := parseStat(b)
		if err != nil {
			return 0, fmt.Errorf("cpu time of process %d: %w", pid, err)
		}
		total += d
	}
	return total, nil
}

// parseStat returns utime+stime (fields 14 and 15 of proc(5)) from the text
// of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted after the last
// ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	// After ") " come field 3 (state) onwards: utime is the 12th, stime
	// the 13th of those.
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || n < 0 || n > maxTicks {
			return 0, fmt.Errorf("stat: bad CPU time %q", s)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
