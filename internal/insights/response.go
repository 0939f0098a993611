package insights

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

// The JSON of Azure Monitor's metrics API (Microsoft.Insights/metrics and
// metricDefinitions).
type (
	Response struct {
		Cost           int            `json:"cost"`
		Timespan       string         `json:"timespan"`
		Interval       string         `json:"interval"`
		Namespace      string         `json:"namespace"`
		ResourceRegion string         `json:"resourceregion"`
		Value          []MetricResult `json:"value"`
	}
	Name struct {
		Value          string `json:"value"`
		LocalizedValue string `json:"localizedValue"`
	}
	MetricResult struct {
		ID                 string       `json:"id"`
		Type               string       `json:"type"`
		Name               Name         `json:"name"`
		DisplayDescription string       `json:"displayDescription"`
		Unit               string       `json:"unit"`
		Timeseries         []TimeSeries `json:"timeseries"`
		ErrorCode          string       `json:"errorCode"`
	}
	TimeSeries struct {
		Metadata []MetadataValue `json:"metadatavalues"`
		Data     []Point         `json:"data"`
	}
	MetadataValue struct {
		Name  Name   `json:"name"`
		Value string `json:"value"`
	}
	Point struct {
		TimeStamp string   `json:"timeStamp"`
		Average   *float64 `json:"average,omitempty"`
		Total     *float64 `json:"total,omitempty"`
		Maximum   *float64 `json:"maximum,omitempty"`
	}
	Definition struct {
		ID                        string         `json:"id"`
		ResourceID                string         `json:"resourceId"`
		Namespace                 string         `json:"namespace"`
		Name                      Name           `json:"name"`
		DisplayDescription        string         `json:"displayDescription"`
		Unit                      string         `json:"unit"`
		PrimaryAggregationType    string         `json:"primaryAggregationType"`
		SupportedAggregationTypes []string       `json:"supportedAggregationTypes"`
		MetricAvailabilities      []Availability `json:"metricAvailabilities"`
		Dimensions                []Name         `json:"dimensions,omitempty"`
	}
	Availability struct {
		TimeGrain string `json:"timeGrain"`
		Retention string `json:"retention"`
	}
)

// Answer computes q from the history. A metric of a dimension sums the
// series that make it (the connections', or the BGP sessions'), split by
// the dimension's value when $filter asks for it.
func (h *History) Answer(q Query) Response {
	out := Response{Timespan: q.From.UTC().Format(time.RFC3339) + "/" + q.To.UTC().Format(time.RFC3339), Interval: formatDuration(q.Interval),
		Namespace: q.Namespace, ResourceRegion: q.Location, Value: []MetricResult{}}
	if q.full {
		out.Interval = "FULL"
	}
	buckets := map[string][]Bucket{}
	of := func(id string) []Bucket {
		if _, ok := buckets[id]; !ok {
			buckets[id] = h.Buckets(id, q.From, q.To, q.Interval)
		}
		return buckets[id]
	}
	for _, m := range q.Metrics {
		r := MetricResult{ID: q.Resource + "/providers/Microsoft.Insights/metrics/" + m.Name, Type: "Microsoft.Insights/metrics",
			Name: Name{m.Name, m.Display}, DisplayDescription: m.Description, Unit: m.Unit, Timeseries: []TimeSeries{}, ErrorCode: "Success"}
		series := q.Connections // a connection's metrics, and the gateway's of its connections
		switch {
		case m.P2S:
			series = q.P2S
		case m.Dimension == byBGPPeer:
			series = q.BGPPeers
		}
		// The series by the dimension's value (one group, "", unsplit).
		groups := map[string][]string{}
		for id, value := range series {
			if q.Split == "" || q.Split != m.Dimension {
				value = ""
			} else if q.Value != "" && !strings.EqualFold(q.Value, value) {
				continue
			}
			groups[value] = append(groups[value], id)
		}
		if len(groups) == 0 && (q.Split == "" || q.Split != m.Dimension) {
			groups[""] = nil // the times, without data
		}
		type split struct {
			ts  TimeSeries
			key float64
			has bool
		}
		var splits []split
		for _, value := range slices.Sorted(maps.Keys(groups)) {
			sum := h.Buckets("", q.From, q.To, q.Interval)
			has := make([]int, len(sum)) // series with gauge samples, by bucket
			for _, id := range groups[value] {
				b := of(id)
				sum = add(sum, b)
				for i := range b {
					if b[i].Gauged {
						has[i]++
					}
				}
			}
			if m.Name == "BgpPeerStatus" {
				// Whether sessions are up is their mean, not their sum:
				// 1 when every session (of each instance) with the peer
				// is, as Azure's Average over its Instance dimension; of
				// the sessions sampled in the bucket, none: no value.
				for i := range sum {
					if has[i] > 0 {
						sum[i].Gauges[GaugePeerUp] /= float64(has[i])
					} else {
						sum[i].Has = false
					}
				}
			}
			meta := []MetadataValue{}
			if value != "" || q.Split != "" && q.Split == m.Dimension {
				meta = []MetadataValue{{Name{m.Dimension, m.Dimension}, value}}
			}
			data := points(m, q, sum)
			key, valued := over(m, data)
			splits = append(splits, split{TimeSeries{Metadata: meta, Data: data}, key, valued})
		}
		if q.Split != "" && q.Split == m.Dimension {
			// The first Top series by the metric's aggregation over the
			// timespan, those without a value last; of equal ones, the
			// dimension's values in order.
			slices.SortStableFunc(splits, func(a, b split) int {
				switch {
				case a.has != b.has:
					if a.has {
						return -1
					}
					return 1
				case q.Ascending:
					return cmp.Compare(a.key, b.key)
				default:
					return cmp.Compare(b.key, a.key)
				}
			})
			if q.Top > 0 {
				splits = splits[:min(len(splits), q.Top)]
			}
		}
		for _, s := range splits {
			r.Timeseries = append(r.Timeseries, s.ts)
		}
		out.Value = append(out.Value, r)
	}
	return out
}

// add sums b into a, bucket by bucket (gauges too: the SAs of a gateway
// are those of its connections); of the peak rates it keeps the larger.
func add(a, b []Bucket) []Bucket {
	for i := range a {
		x, y := &a[i], &b[i]
		x.Ingress += y.Ingress
		x.Egress += y.Egress
		x.IngressPackets += y.IngressPackets
		x.EgressPackets += y.EgressPackets
		x.Drops = x.Drops.Plus(y.Drops)
		for g := range x.Gauges {
			x.Gauges[g] += y.Gauges[g]
		}
		x.PeakPPS = max(x.PeakPPS, y.PeakPPS)
		x.Has = x.Has || y.Has
		x.Gauged = x.Gauged || y.Gauged
		if y.Told.After(x.Told) {
			x.Told = y.Told
		}
	}
	return a
}

// over is a series' value over the timespan in the metric's aggregation:
// the sum of its totals, the mean of its averages, the largest maximum;
// false when no point has one.
func over(m Metric, ps []Point) (v float64, has bool) {
	var n int
	for _, p := range ps {
		x := p.Total
		if m.Aggregation == "Average" {
			x = p.Average
		} else if m.Aggregation == "Maximum" {
			x = p.Maximum
		}
		if x == nil {
			continue
		}
		if m.Aggregation == "Maximum" && n > 0 {
			v = max(v, *x)
		} else {
			v += *x
		}
		n++
	}
	if n > 0 && m.Aggregation == "Average" {
		v /= float64(n)
	}
	return v, n > 0
}

func points(m Metric, q Query, bs []Bucket) []Point {
	out := make([]Point, 0, len(bs))
	for _, b := range bs {
		p := Point{TimeStamp: b.Start.UTC().Format(time.RFC3339)}
		// A rate is over the bucket's time within the timespan that
		// samples told of: the bucket under way holds the traffic up to
		// its last sample (none before the first, taken at its end when
		// the interval is the sampling one), one cut at the timespan's
		// end only that time's.
		end := b.End
		if q.now.After(b.Start) && !q.now.After(end) {
			end = b.Told
		}
		if b.Has && end.After(b.Start) {
			v := m.value(b, end.Sub(b.Start).Seconds())
			switch m.Aggregation {
			case "Total":
				p.Total = &v
			case "Maximum":
				p.Maximum = &v
			default:
				p.Average = &v
			}
		}
		out = append(out, p)
	}
	return out
}

// Definitions lists the metrics of resource for metricDefinitions.
func (h *History) Definitions(resource, namespace string, metrics []Metric) []Definition {
	var out []Definition
	for _, m := range metrics {
		d := Definition{ID: resource + "/providers/Microsoft.Insights/metricdefinitions/" + m.Name, ResourceID: resource, Namespace: namespace,
			Name: Name{m.Name, m.Display}, DisplayDescription: m.Description, Unit: m.Unit, PrimaryAggregationType: m.Aggregation,
			SupportedAggregationTypes: []string{m.Aggregation},
			MetricAvailabilities:      []Availability{{TimeGrain: formatDuration(max(time.Minute, h.every)), Retention: formatDuration(time.Duration(h.max) * h.every)}}}
		if m.Dimension != "" {
			d.Dimensions = []Name{{m.Dimension, m.Dimension}}
		}
		out = append(out, d)
	}
	return out
}
