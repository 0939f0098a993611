package sparselog

import (
	"testing"
	"time"
)

// TestDue: the first line is logged at once; those within Every after it
// are counted into the next, logged once Every has passed.
func TestDue(t *testing.T) {
	var l Log
	if _, log := l.Due(); log {
		t.Fatal("a line due with nothing counted")
	}
	l.Count(1)
	if n, log := l.Due(); !log || n != 1 {
		t.Fatalf("first: %d, %v; want 1 logged", n, log)
	}
	l.Count(2)
	l.Count(3)
	if n, log := l.Due(); log || n != 5 {
		t.Fatalf("within Every: %d, %v; want 5 counted, not logged", n, log)
	}
	l.logged = l.logged.Add(-Every - time.Second)
	if n, log := l.Due(); !log || n != 5 {
		t.Fatalf("after Every: %d, %v; want 5 logged", n, log)
	}
	if n, log := l.Due(); log || n != 0 {
		t.Fatalf("after the line: %d, %v; want counting from 0", n, log)
	}
}

// TestDueAt: with a clock of the owner's, the first line is logged at
// once whatever the clock says, and the next once Every has passed on it.
func TestDueAt(t *testing.T) {
	var l Log
	t0 := time.Unix(1000, 0)
	l.Count(1)
	if n, log := l.DueAt(t0); !log || n != 1 {
		t.Fatalf("first: %d, %v; want 1 logged", n, log)
	}
	l.Count(4)
	if n, log := l.DueAt(t0.Add(Every - time.Nanosecond)); log || n != 4 {
		t.Fatalf("within Every: %d, %v; want 4 counted, not logged", n, log)
	}
	if n, log := l.DueAt(t0.Add(Every)); !log || n != 4 {
		t.Fatalf("after Every: %d, %v; want 4 logged", n, log)
	}
}

// TestCountTo: a counter read now and then counts what it grew by.
func TestCountTo(t *testing.T) {
	var l Log
	l.CountTo(3)
	l.CountTo(5)
	if n, log := l.DueAt(time.Unix(1000, 0)); !log || n != 5 {
		t.Fatalf("first: %d, %v; want 5 logged", n, log)
	}
	l.CountTo(5)
	l.CountTo(9)
	if n, log := l.DueAt(time.Unix(1000, 0).Add(Every)); !log || n != 4 {
		t.Fatalf("second: %d, %v; want 4 logged", n, log)
	}
}

// TestRest: what is counted within Every of the last line is given by
// Rest at once, and not again.
func TestRest(t *testing.T) {
	var l Log
	t0 := time.Unix(1000, 0)
	l.CountTo(1)
	if n, log := l.DueAt(t0); !log || n != 1 {
		t.Fatalf("first: %d, %v; want 1 logged", n, log)
	}
	l.CountTo(4)
	if n := l.Rest(); n != 3 {
		t.Fatalf("Rest %d within Every, want 3", n)
	}
	if n := l.Rest(); n != 0 {
		t.Fatalf("Rest %d again, want 0", n)
	}
	if n, log := l.DueAt(t0.Add(Every)); log || n != 0 {
		t.Fatalf("after Every: %d, %v; want nothing", n, log)
	}
}

// TestTake: a tick counts to the counter's total and logs as DueAt says;
// the last tick logs what is counted whatever the minute says, and
// nothing when nothing is.
func TestTake(t *testing.T) {
	var l Log
	t0 := time.Unix(1000, 0)
	if n, log := l.Take(3, t0, false); !log || n != 3 {
		t.Fatalf("first: %d, %v; want 3 logged", n, log)
	}
	if n, log := l.Take(5, t0.Add(time.Second), false); log || n != 2 {
		t.Fatalf("within the minute: %d, %v; want 2 counted, not logged", n, log)
	}
	if n, log := l.Take(6, t0.Add(2*time.Second), true); !log || n != 3 {
		t.Fatalf("last: %d, %v; want 3 logged", n, log)
	}
	if n, log := l.Take(6, t0.Add(3*time.Second), true); log || n != 0 {
		t.Fatalf("last again: %d, %v; want nothing", n, log)
	}
}
