package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
)

// Machine describes where a run happened.
type Machine struct {
	CPU         string // model name
	Cores       int
	Kernel      string
	Go          string // the toolchain that built the suite
	StrongSwan  string
	Iperf       string
	WireGuardGo string // module@version of the wireguard-go binary
}

// Describe gathers the machine's facts; wireGuardGo is the wireguard-go
// binary whose module version to report.
func Describe(ctx context.Context, wireGuardGo string) Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), Kernel: "unknown", Go: runtime.Version(),
		StrongSwan: "not installed", Iperf: "not installed", WireGuardGo: "not built"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := run(ctx, CharonPath, "--version"); err == nil {
		m.StrongSwan = firstLine(strings.TrimSpace(out))
	}
	if out, err := run(ctx, "iperf3", "--version"); err == nil {
		m.Iperf = firstLine(strings.TrimSpace(out))
	}
	if _, err := os.Stat(wireGuardGo); err == nil {
		m.WireGuardGo = ModuleVersion(wireGuardGo)
	}
	return m
}
