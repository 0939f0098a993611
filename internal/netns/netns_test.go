package netns

import (
	"os"
	"os/exec"
	"testing"
)

// TestDo enters a namespace and checks that the thread was in it and is
// back afterwards.
func TestDo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	name := "vtnetns-do"
	exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	want, err := os.Readlink(Path(name))
	if err != nil {
		want = ""
	}
	home, _ := os.Readlink("/proc/thread-self/ns/net")
	var inside string
	if err := Do(Path(name), func() error {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside == home || (want != "" && inside != want) {
		t.Fatalf("inside Do the thread was in %s (home %s)", inside, home)
	}
	if err := Do("/run/netns/does-not-exist", func() error { return nil }); err == nil {
		t.Fatal("entering a missing namespace succeeded")
	}
}
