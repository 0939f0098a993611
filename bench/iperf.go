package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Test is one kind of transfer between the hosts.
type Test struct {
	// Name is short and stable: tcp-1, tcp-4-rev, udp-64.
	Name string
	// Streams is the number of parallel TCP streams (iperf3 -P).
	Streams int
	// UDP sends PacketSize-byte UDP payloads at an unlimited rate instead
	// of TCP.
	UDP        bool
	PacketSize int
	// Reverse sends from host B to host A (iperf3 -R).
	Reverse bool
}

// Label describes the test for tables and charts.
func (t Test) Label() string {
	dir := "A→B"
	if t.Reverse {
		dir = "B→A"
	}
	if t.UDP {
		return fmt.Sprintf("UDP %d B %s", t.PacketSize, dir)
	}
	s := "streams"
	if t.Streams == 1 {
		s = "stream"
	}
	return fmt.Sprintf("TCP %d %s %s", t.Streams, s, dir)
}

// Plan returns the tests of a run: TCP with each stream count and UDP with
// 64-byte packets, each in both directions.
func Plan(streams []int) []Test {
	var tests []Test
	for _, n := range streams {
		for _, rev := range []bool{false, true} {
			t := Test{Name: fmt.Sprintf("tcp-%d", n), Streams: n, Reverse: rev}
			if rev {
				t.Name += "-rev"
			}
			tests = append(tests, t)
		}
	}
	for _, rev := range []bool{false, true} {
		t := Test{Name: "udp-64", Streams: 1, UDP: true, PacketSize: 64, Reverse: rev}
		if rev {
			t.Name += "-rev"
		}
		tests = append(tests, t)
	}
	return tests
}

// Sample is what one transfer measured.
type Sample struct {
	// Bytes is the payload received, Seconds the receiver's measuring time.
	Bytes   int64
	Seconds float64
	// Mbps is the received payload rate in Mbit/s.
	Mbps float64
	// PPS is the rate of UDP packets received; LossPercent the share of
	// sent UDP packets that did not arrive.
	PPS         float64
	LossPercent float64
	// CPU is the user and system time the system's processes spent during
	// the transfer; HasCPU is false for systems without processes.
	CPU    time.Duration
	HasCPU bool
}

// CPUPerGB returns CPU seconds per gigabyte (10⁹ bytes) received.
func (s Sample) CPUPerGB() float64 {
	if s.Bytes <= 0 {
		return 0
	}
	return s.CPU.Seconds() / (float64(s.Bytes) / 1e9)
}

const iperfPort = "5201"

// measure runs test once between the topology's hosts while counting the
// CPU time of pids.
func measure(ctx context.Context, topo *Topology, test Test, seconds int, pids []int) (Sample, error) {
	// A fresh one-off server per transfer: no state left by a failed run.
	srvCtx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+time.Minute)
	defer cancel()
	srv := exec.CommandContext(srvCtx, "ip", "netns", "exec", topo.HostB.Name,
		"iperf3", "-s", "-1", "-B", topo.HostBAddr.String(), "-p", iperfPort)
	srv.WaitDelay = time.Second
	if err := srv.Start(); err != nil {
		return Sample{}, fmt.Errorf("start iperf3 server: %w", err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Wait() }()
	defer func() {
		select {
		case <-srvDone:
		case <-time.After(5 * time.Second):
			srv.Process.Kill()
			<-srvDone
		}
	}()
	if err := waitFor(ctx, 5*time.Second, func() bool {
		out, err := topo.HostB.Run(ctx, "ss", "-Hltn", "sport = :"+iperfPort)
		return err == nil && strings.TrimSpace(out) != ""
	}); err != nil {
		return Sample{}, fmt.Errorf("iperf3 server did not listen: %w", err)
	}

	args := []string{"iperf3", "-c", topo.HostBAddr.String(), "-p", iperfPort, "-J",
		"-t", strconv.Itoa(seconds), "--connect-timeout", "5000"}
	if test.Streams > 1 {
		args = append(args, "-P", strconv.Itoa(test.Streams))
	}
	if test.Reverse {
		args = append(args, "-R")
	}
	if test.UDP {
		// -b 0: no rate limit; -w 4M: socket buffers large enough that the
		// hosts' own sockets do not drop.
		args = append(args, "-u", "-l", strconv.Itoa(test.PacketSize), "-b", "0", "-w", "4M")
	}
	cliCtx, cliCancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+30*time.Second)
	defer cliCancel()
	cli := exec.CommandContext(cliCtx, "ip", append([]string{"netns", "exec", topo.HostA.Name}, args...)...)
	cli.WaitDelay = time.Second
	before, err := cpuTime(pids)
	if err != nil {
		return Sample{}, err
	}
	out, runErr := cli.Output()
	after, err := cpuTime(pids)
	if err != nil {
		return Sample{}, err
	}
	s, err := parseIperf(out, test.UDP)
	if err != nil {
		return Sample{}, errors.Join(err, runErr)
	}
	s.CPU, s.HasCPU = after-before, len(pids) > 0
	return s, nil
}

// iperfReport is the part of iperf3's -J output the suite reads.
type iperfReport struct {
	Error string `json:"error"`
	End   struct {
		SumReceived *iperfSum `json:"sum_received"`
	} `json:"end"`
}

type iperfSum struct {
	Seconds       float64 `json:"seconds"`
	Bytes         int64   `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
	Packets       int64   `json:"packets"`
	LostPackets   int64   `json:"lost_packets"`
	LostPercent   float64 `json:"lost_percent"`
}

// parseIperf reads the receiver's figures from iperf3's -J output (the
// client's, which carries the server's side too).
func parseIperf(out []byte, udp bool) (Sample, error) {
	var r iperfReport
	if err := json.Unmarshal(out, &r); err != nil {
		return Sample{}, fmt.Errorf("iperf3 output: %w", err)
	}
	if r.Error != "" {
		return Sample{}, fmt.Errorf("iperf3: %s", r.Error)
	}
	sum := r.End.SumReceived
	if sum == nil {
		return Sample{}, errors.New("iperf3 output has no end.sum_received")
	}
	if sum.Seconds <= 0 || sum.Bytes <= 0 || sum.BitsPerSecond < 0 {
		return Sample{}, fmt.Errorf("iperf3 received nothing (%d bytes in %.1f s)", sum.Bytes, sum.Seconds)
	}
	s := Sample{Bytes: sum.Bytes, Seconds: sum.Seconds, Mbps: sum.BitsPerSecond / 1e6}
	if udp {
		got := sum.Packets - sum.LostPackets
		if got <= 0 || sum.LostPercent < 0 || sum.LostPercent > 100 {
			return Sample{}, fmt.Errorf("iperf3 UDP figures do not add up: %d packets, %d lost, %.1f%%", sum.Packets, sum.LostPackets, sum.LostPercent)
		}
		s.PPS = float64(got) / sum.Seconds
		s.LossPercent = sum.LostPercent
	}
	return s, nil
}
