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
