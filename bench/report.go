package bench

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// table is one Markdown table of the report: a figure over a set of tests.
type table struct {
	title string
	unit  string
	fig   figure
	// format writes a value of the figure.
	format func(float64) string
	// tests picks the tests the table covers.
	tests func(Test) bool
	// loss adds the median UDP loss as a last column.
	loss bool
	// none explains a test that ran but has no figure.
	none string
}

var tables = []table{
	{title: "TCP throughput", unit: "Mbit/s, higher is better", fig: throughput, format: thousands,
		tests: func(t Test) bool { return !t.UDP }},
	{title: "UDP, 64-byte packets at an unlimited rate", unit: "received kpps, higher is better", fig: packetRate,
		format: decimals(1), tests: func(t Test) bool { return t.UDP }, loss: true},
	{title: "CPU per gigabyte moved", unit: "user+sys CPU seconds of the gateway processes per 10⁹ payload bytes received, lower is better",
		fig: cpuPerGB, format: decimals(2), tests: func(Test) bool { return true }, none: "no process: runs in the kernel"},
}

// WriteMarkdown writes the run's report: the goals, what ran where, the
// tables of each part that ran, and the machine. command is the command
// line that made it; chart, when not empty, is the file name of the chart
// to show.
func WriteMarkdown(w io.Writer, res *Result, m Machine, command, chart string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# vnetgw benchmarks, %s\n\n", res.Start.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "```sh\n%s\n```\n\n", command)
	if chart != "" {
		fmt.Fprintf(&b, "![the run's figures, as below](%s)\n\n", chart)
	}
	writeGoals(&b, res)
	if res.Options.Selects(PartThroughput) {
		writeThroughput(&b, res)
	}
	if res.IKE != nil {
		writeIKE(&b, res.IKE)
	}
	if res.Scale != nil {
		writeScale(&b, res.Scale)
	}
	if res.Control != nil {
		writeControl(&b, res.Control)
	}

	fmt.Fprintf(&b, "## Machine\n\n")
	fmt.Fprintf(&b, "- CPU: %s, %d cores\n- Kernel: %s\n- Go: %s\n- strongSwan: %s\n- iperf3: %s\n- wireguard-go: %s\n",
		m.CPU, m.Cores, m.Kernel, m.Go, m.StrongSwan, m.Iperf, m.WireGuardGo)
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min): %s before, %s after; the run took %s. Other work on the machine slows every figure",
		res.LoadBefore, res.LoadAfter, res.End.Sub(res.Start).Round(1e9))
	if res.IKE != nil || res.Scale != nil || res.Control != nil {
		// The throughput part's tables have none: its runs are
		// interleaved instead, so that a passing load hits every system.
		b.WriteString("; the tables of the IKE, scale and control parts give the 1-minute load average at the end of each figure's runs")
	}
	b.WriteString("\n\n")
	b.WriteString("## How it is measured\n\n")
	if res.Options.Selects(PartThroughput) {
		b.WriteString(method)
	}
	if res.IKE != nil {
		b.WriteString(ikeMethod)
	}
	if res.Scale != nil {
		b.WriteString(scaleMethod)
	}
	if res.Control != nil {
		b.WriteString(controlMethod)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeThroughput writes the throughput part: the systems and the tables
// of their figures.
func writeThroughput(b *bytes.Buffer, res *Result) {
	fmt.Fprintf(b, "## Throughput\n\nEach figure is the median of %d run(s) of %d s, with the minimum and maximum; "+
		"\"vs %s\" is the median divided by %s's median in the same run. Runs of the systems are interleaved "+
		"(each round runs every test on every system), so a passing load hits them all alike. A figure from fewer runs, "+
		"as some transfers failed (they are listed at the end), says of how many.\n\n",
		res.Options.Runs, res.Options.Seconds, Baseline, Baseline)
	b.WriteString("### Systems\n\n| system | what runs | status |\n| --- | --- | --- |\n")
	for _, s := range res.Systems {
		status := string(s.Status)
		if s.Reason != "" {
			status += ": " + s.Reason
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", s.Name, cell(s.Detail), cell(status))
	}
	b.WriteString("\n")

	base := res.system(Baseline)
	for _, t := range tables {
		fmt.Fprintf(b, "### %s\n\n%s.\n\n| test | system | median | min | max | vs %s |", t.title, upperFirst(t.unit), Baseline)
		if t.loss {
			b.WriteString(" loss % (median) |")
		}
		b.WriteString("\n| --- | --- | ---: | ---: | ---: | ---: |")
		if t.loss {
			b.WriteString(" ---: |")
		}
		b.WriteString("\n")
		for _, test := range res.Tests {
			if !t.tests(test) {
				continue
			}
			for _, s := range res.Systems {
				if s.Status != Measured {
					continue
				}
				st := s.stat(test.Name, t.fig)
				fmt.Fprintf(b, "| %s | %s | ", test.Label(), s.Name)
				switch {
				case st.n > 0:
					med := t.format(st.median)
					if st.n < res.Options.Runs {
						med += fmt.Sprintf(" (%d of %d runs)", st.n, res.Options.Runs)
					}
					fmt.Fprintf(b, "%s | %s | %s | %s |", med, t.format(st.min), t.format(st.max), ratio(st, base, test.Name, t.fig))
				case len(s.Samples[test.Name]) > 0:
					fmt.Fprintf(b, "— | — | — | %s |", t.none)
				default:
					b.WriteString("— | — | — | every run failed |")
				}
				if t.loss {
					if l := s.stat(test.Name, loss); l.n > 0 {
						fmt.Fprintf(b, " %s |", decimals(1)(l.median))
					} else {
						b.WriteString(" — |")
					}
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}

	var failures []string
	for _, s := range res.Systems {
		for _, f := range s.Failures {
			failures = append(failures, fmt.Sprintf("- %s, %s", s.Name, f))
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(b, "### Failed transfers\n\n%s\n\n", strings.Join(failures, "\n"))
	}
}

const method = `- Topology per system, each in fresh network namespaces: host A (10.1.0.2/16) — gateway A (10.1.0.1 | 10.0.0.1) ═ veth ═ gateway B (10.0.0.2 | 10.2.0.1) — host B (10.2.0.2/16); forwarding on the gateways. The system runs on the gateways; a ping from host A to host B must pass before measuring.
- TCP: iperf3 -c from host A to host B, -P streams, -R for B→A; the figure is iperf3's receiver-side rate (end.sum_received of -J).
- UDP: iperf3 -u -l 64 -b 0 -w 4M; kpps = (packets sent − packets lost) ÷ receiver's seconds, loss as iperf3 counts it from sequence numbers.
- CPU per GB: user+sys time (/proc/<pid>/stat, all threads) of the system's processes on both gateways — wireguard-go, or charon with its userspace ESP — over the transfer, divided by the payload bytes received. Kernel forwarding (the routed system) runs in softirq context and is charged to no process, so it has no figure.
`

// system returns the named system's result if it was measured.
func (r *Result) system(name string) *SystemResult {
	for _, s := range r.Systems {
		if s.Name == name && s.Status == Measured {
			return s
		}
	}
	return nil
}

// ratio is s's median over the baseline's median for the same test.
func ratio(s summary, base *SystemResult, test string, f figure) string {
	if base == nil {
		return "—"
	}
	b := base.stat(test, f)
	if b.n == 0 || b.median == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", s.median/b.median)
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

func decimals(prec int) func(float64) string {
	return func(v float64) string { return strconv.FormatFloat(v, 'f', prec, 64) }
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
