package bench

import "slices"

// summary is the median, minimum and maximum of one figure over the runs.
type summary struct {
	median, min, max float64
	// n is the number of runs the figure comes from; 0 means no figure.
	n int
}

// summarize returns the summary of values; the median of an even count is
// the mean of the middle two.
func summarize(values []float64) summary {
	if len(values) == 0 {
		return summary{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return summary{median: med, min: v[0], max: v[n-1], n: n}
}

// figure picks one number out of a sample; ok is false when the sample has
// none (CPU time of a system without processes).
type figure func(Sample) (v float64, ok bool)

// The figures the report shows.
var (
	throughput figure = func(s Sample) (float64, bool) { return s.Mbps, true }        // Mbit/s
	packetRate figure = func(s Sample) (float64, bool) { return s.PPS / 1e3, true }   // kpps
	loss       figure = func(s Sample) (float64, bool) { return s.LossPercent, true } // %
	cpuPerGB   figure = func(s Sample) (float64, bool) { return s.CPUPerGB(), s.HasCPU }
)

// stat returns the summary of f over the system's samples of a test.
func (r *SystemResult) stat(test string, f figure) summary {
	var v []float64
	for _, s := range r.Samples[test] {
		if x, ok := f(s); ok {
			v = append(v, x)
		}
	}
	return summarize(v)
}
