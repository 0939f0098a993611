package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
)

// peerGateway is one `vnetgw dev gateway` in a peerNet's gateway namespace
// that answers many peers: one ResponderOnly connection per peer address,
// each routing one host address behind the peer into the gateway's TUN
// device. It logs at its default level (info), one line per IKE SA
// established among others, as a deployed gateway would.
type peerGateway struct {
	proc *Process
}

// startPeerGateway writes the gateway's configuration into dir and starts
// it, and waits until it has configured every connection. The returned
// gateway, also on error, must be stopped.
func startPeerGateway(ctx context.Context, binary, dir string, ns *Namespace, remotes []netip.Addr, ike, esp string) (*peerGateway, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f := gateway.File{Local: pnGateway.Addr().String()}
	f.TUN.Name = "gw0"
	f.Connections = make([]gateway.FileConnection, len(remotes))
	for i, r := range remotes {
		f.Connections[i] = gateway.FileConnection{
			Name: peerName(i), Remote: r.String(), PSK: benchPSK, Mode: "ResponderOnly",
			IKE: []string{ike}, ESP: []string{esp}, Routes: []string{netip.PrefixFrom(peerHost(i), 32).String()},
		}
	}
	cfg, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return nil, err
	}
	// The status line lists every connection: once a day, not during the
	// measurement.
	p, err := ns.Start(filepath.Join(dir, "gateway.log"), append(vnetgwArgs(binary, path), "--status-interval", "24h")...)
	if err != nil {
		return nil, err
	}
	g := &peerGateway{proc: p}
	// Its TUN device gets one route per connection; allow for that.
	d := 30*time.Second + time.Duration(len(remotes))*10*time.Millisecond
	var off int64
	var up bool
	err = waitFor(ctx, d, func() bool {
		up, off = logHas(p.Log, off, "gateway "+f.Local+" up on ")
		return up || p.Exited()
	})
	switch {
	case p.Exited():
		return g, p.exitError()
	case err != nil:
		return g, fmt.Errorf("vnetgw gateway with %d connections not up after %s: %s", len(remotes), d, tail(readFile(p.Log), 10))
	}
	return g, nil
}

// logHas reports whether the file at path holds s after offset off, and
// the offset to look from next time.
func logHas(path string, off int64, s string) (bool, int64) {
	f, err := os.Open(path)
	if err != nil {
		return false, off
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, off, 1<<40))
	if err != nil {
		return false, off
	}
	if bytes.Contains(b, []byte(s)) {
		return true, off
	}
	// The next look starts where a match cut off at the end could begin.
	return false, off + int64(max(0, len(b)-len(s)))
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// rss returns the gateway's resident memory in bytes.
func (g *peerGateway) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.proc.Pid()))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// cpu returns the CPU time the gateway has used so far.
func (g *peerGateway) cpu() (time.Duration, error) { return cpuTime([]int{g.proc.Pid()}) }

// established returns when the gateway logged each peer's first IKE SA as
// established, by connection name.
func (g *peerGateway) established() (map[string]time.Time, error) {
	f, err := os.Open(g.proc.Log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseEstablished(f)
}

// stop stops the gateway.
func (g *peerGateway) stop() {
	if g != nil && g.proc != nil {
		g.proc.Stop()
	}
}

// maxRSS bounds a VmRSS read (1 PiB in kB), so that it cannot overflow.
const maxRSS = 1 << 40

// parseVmRSS returns the VmRSS line of /proc/<pid>/status in bytes.
func parseVmRSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("status: VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 || kb > maxRSS {
			return 0, fmt.Errorf("status: VmRSS %q", f[0])
		}
		return kb * 1024, nil
	}
	return 0, errors.New("status: no VmRSS line")
}

// parseEstablished reads a gateway's log (log/slog's text format) and
// returns the time of the first "IKE SA established" line of each peer.
func parseEstablished(r io.Reader) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="IKE SA established"`) {
			continue
		}
		kv := parseLogLine(line)
		at, err := time.Parse(time.RFC3339Nano, kv["time"])
		if err != nil || kv["peer"] == "" {
			continue
		}
		if _, seen := out[kv["peer"]]; !seen {
			out[kv["peer"]] = at
		}
	}
	return out, sc.Err()
}

// parseLogLine splits a line of log/slog's text format into its keys and
// values: key=value pairs separated by spaces, a value quoted (Go syntax)
// when it holds spaces, quotes or '='. Malformed pairs are skipped.
func parseLogLine(line string) map[string]string {
	kv := map[string]string{}
	for s := line; s != ""; {
		s = strings.TrimLeft(s, " ")
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \"") {
			return kv
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return kv
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		kv[key] = val
		s = rest
	}
	return kv
}
