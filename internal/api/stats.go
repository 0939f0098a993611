package api

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// durationBuckets are the upper bounds, in seconds, of the request
// duration histogram.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}

// requestStats counts the API's requests by method and status and keeps a
// histogram of their durations by method, for GET /metrics.
type requestStats struct {
	mu        sync.Mutex
	count     map[[2]string]uint64 // method, status
	durations map[string]*histogram
}

type histogram struct {
	buckets []uint64 // cumulative counts come from these when written
	sum     float64
	n       uint64
}

// statsMethod bounds the method label to the methods the API knows.
func statsMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

func (s *requestStats) add(method string, status int, d time.Duration) {
	method = statsMethod(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count == nil {
		s.count, s.durations = map[[2]string]uint64{}, map[string]*histogram{}
	}
	s.count[[2]string{method, strconv.Itoa(status)}]++
	h := s.durations[method]
	if h == nil {
		h = &histogram{buckets: make([]uint64, len(durationBuckets))}
		s.durations[method] = h
	}
	sec := d.Seconds()
	if i, _ := slices.BinarySearch(durationBuckets, sec); i < len(durationBuckets) {
		h.buckets[i]++
	}
	h.sum += sec
	h.n++
}

// write writes the counters in the Prometheus text format.
func (s *requestStats) write(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.count) == 0 {
		return
	}
	fmt.Fprint(w, "# HELP vnetgw_api_requests_total requests the API answered, by method and HTTP status\n# TYPE vnetgw_api_requests_total counter\n")
	keys := slices.SortedFunc(maps.Keys(s.count), func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	})
	for _, k := range keys {
		fmt.Fprintf(w, "vnetgw_api_requests_total{method=%q,code=%q} %d\n", k[0], k[1], s.count[k])
	}
	fmt.Fprint(w, "# HELP vnetgw_api_request_duration_seconds how long the API took to answer, by method\n# TYPE vnetgw_api_request_duration_seconds histogram\n")
	for _, m := range slices.Sorted(maps.Keys(s.durations)) {
		h := s.durations[m]
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.buckets[i]
			fmt.Fprintf(w, "vnetgw_api_request_duration_seconds_bucket{method=%q,le=%q} %d\n", m, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(w, "vnetgw_api_request_duration_seconds_bucket{method=%q,le=\"+Inf\"} %d\n", m, h.n)
		fmt.Fprintf(w, "vnetgw_api_request_duration_seconds_sum{method=%q} %g\n", m, h.sum)
		fmt.Fprintf(w, "vnetgw_api_request_duration_seconds_count{method=%q} %d\n", m, h.n)
	}
}
