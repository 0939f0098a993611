// Package leaktest tells what a test's process holds — its goroutines, by
// stack, its open files and its heap in use — so that a churn test can
// check that what came and went (connections, gateways, clients) left
// nothing behind, and name what did.
package leaktest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Usage is what the process holds.
type Usage struct {
	Goroutines, FDs int
	Heap            uint64         // bytes in use, after a collection
	stacks          map[string]int // goroutines by stack
}

// Unbounded is more than any process holds: the base of a first wait
// for a process to settle.
var Unbounded = Usage{Goroutines: 1 << 20, FDs: 1 << 20}

func (u Usage) String() string {
	return fmt.Sprintf("%d goroutines, %d open files, %.1f MiB heap in use", u.Goroutines, u.FDs, float64(u.Heap)/(1<<20))
}

// Within says whether u holds at most slack goroutines and open files
// more than base.
func (u Usage) Within(base Usage, slack int) bool {
	return u.Goroutines <= base.Goroutines+slack && u.FDs <= base.FDs+slack
}

// Measure collects garbage and returns what the process holds, the
// goroutine that measures left out.
func Measure(t testing.TB) Usage {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	u := Usage{FDs: len(fds), Heap: ms.HeapInuse, stacks: map[string]int{}}
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	// Records of "N @ pcs" and "#\tpc\tfunction+off\tfile:line" lines,
	// separated by empty lines.
	var n int
	var stack []string
	flush := func() {
		if n > 0 && !slices.ContainsFunc(stack, func(f string) bool { return strings.HasPrefix(f, "runtime/pprof.") }) {
			u.stacks[strings.Join(stack, "\n")] += n
			u.Goroutines += n
		}
		n, stack = 0, nil
	}
	sc := bufio.NewScanner(&b)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch f := strings.Fields(line); {
		case line == "":
			flush()
		case n == 0 && len(f) > 1 && f[1] == "@":
			n, _ = strconv.Atoi(f[0])
		case len(f) >= 3 && f[0] == "#":
			stack = append(stack, f[2])
		}
	}
	flush()
	return u
}

// Grown lists the stacks that more goroutines run in now than in base,
// each with how many more.
func Grown(base, now Usage) string {
	var out []string
	for s, n := range now.stacks {
		if d := n - base.stacks[s]; d > 0 {
			out = append(out, fmt.Sprintf("+%d\n%s", d, s))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n\n")
}

// HeapProfile writes a heap profile named name (its spaces and slashes
// made dashes) into the directory $VNETGW_CHURN_PROFILES when that is
// set, for `go tool pprof -base`.
func HeapProfile(t testing.TB, name string) {
	t.Helper()
	dir := os.Getenv("VNETGW_CHURN_PROFILES")
	if dir == "" {
		return
	}
	runtime.GC()
	f, err := os.Create(filepath.Join(dir, strings.NewReplacer(" ", "-", "/", "-").Replace(name)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}
