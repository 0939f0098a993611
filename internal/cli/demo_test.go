package cli

import (
	"context"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// vnetgw demo whose gateway ports are taken (another demo still running
// with --keep) fails at the step that waits for the connections, at once
// and saying why: it waited 30 s and said only "not connected after 30s:
// hub-to-onprem (NotConnected)", the cause in the kept log alone.
func TestDemoPortsTaken(t *testing.T) {
	ike := freePort(t, "udp")
	taken, err := net.ListenPacket("udp4", "127.194.4.1:"+strconv.Itoa(int(ike)))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, out, errOut := vnetgw(t, "demo", "--public-ip-pool", "127.194.4.0/24", "--ike-port", strconv.Itoa(int(ike)),
		"--natt-port", strconv.Itoa(int(freePort(t, "udp"))), "--sstp-port", strconv.Itoa(int(freePort(t, "tcp"))))
	if dir := regexp.MustCompile(`data directory (\S+) is kept`).FindStringSubmatch(errOut); dir != nil {
		defer os.RemoveAll(dir[1])
	}
	// Either of the hub's connections may be the first to tell.
	for _, want := range []string{
		`waiting for every connection to be Connected: a gateway cannot run \(is another demo still running, with --keep\?`,
		`hub-to-(onprem|spoke): the gateway is not running: `,
		regexp.QuoteMeta("127.194.4.1:" + strconv.Itoa(int(ike)) + ": bind: address already in use"),
	} {
		if code != 1 || !regexp.MustCompile(want).MatchString(errOut) {
			t.Errorf("demo with its IKE port taken: exit %d, want 1 and %q\n%s%s", code, want, out, errOut)
		}
	}
}

// Ctrl-C (or SIGTERM) during the demo says that it was interrupted and
// that everything is removed, and removes the data directory: it said
// "FAILED" and "context canceled", as if the demo had gone wrong.
func TestDemoInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancelled when the first step is done: the demo is stopped in its
	// second.
	out := &cancelAfter{cancel: cancel, after: " ok ("}
	errOut := &syncWriter{}
	code := Execute(ctx, []string{"demo", "--public-ip-pool", "127.194.5.0/24", "--ike-port", strconv.Itoa(int(freePort(t, "udp"))),
		"--natt-port", strconv.Itoa(int(freePort(t, "udp"))), "--sstp-port", strconv.Itoa(int(freePort(t, "tcp")))}, out, errOut)
	o, e := out.String(), errOut.String()
	if code != 1 || !strings.Contains(o, "interrupted; removing everything\n") || strings.Contains(o, "FAILED") ||
		strings.TrimSpace(e) != "error: interrupted" {
		t.Errorf("demo interrupted: exit %d, want 1, %q and no FAILED printed, and error: interrupted\n%s%s", code, "interrupted; removing everything", o, e)
	}
	if dir := regexp.MustCompile(`data in (\S+)\)`).FindStringSubmatch(o); dir == nil {
		t.Errorf("no data directory printed:\n%s", o)
	} else if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		os.RemoveAll(dir[1])
		t.Errorf("data directory %s left behind (%v)", dir[1], err)
	}
}

// cancelAfter keeps what is written to it and cancels once it has been
// written after.
type cancelAfter struct {
	syncWriter
	after  string
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	n, err := w.syncWriter.Write(p)
	if strings.Contains(w.String(), w.after) {
		w.cancel()
	}
	return n, err
}
