package insights

import (
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

// dimension is the one dimension of the gateway's tunnel metrics.
var dimension = Name{Value: "ConnectionName", LocalizedValue: "ConnectionName"}

// Answer computes q from the history.
func (h *History) Answer(q Query) Response {
	out := Response{Timespan: q.From.UTC().Format(time.RFC3339) + "/" + q.To.UTC().Format(time.RFC3339), Interval: formatDuration(q.Interval),
		Namespace: q.Namespace, ResourceRegion: q.Location, Value: []MetricResult{}}
	ids := slices.Sorted(maps.Keys(q.Connections))
	buckets := map[string][]Bucket{}
	for _, id := range ids {
		buckets[id] = h.Buckets(id, q.From, q.To, q.Interval)
	}
	for _, m := range q.Metrics {
		r := MetricResult{ID: q.Resource + "/providers/Microsoft.Insights/metrics/" + m.Name, Type: "Microsoft.Insights/metrics",
			Name: Name{m.Name, m.Display}, DisplayDescription: m.Description, Unit: m.Unit, Timeseries: []TimeSeries{}, ErrorCode: "Success"}
		if m.P2S {
			r.Timeseries = append(r.Timeseries, TimeSeries{Metadata: []MetadataValue{}, Data: points(m, q, h.Buckets(q.P2S, q.From, q.To, q.Interval))})
		} else if q.Split && m.Split {
			for _, id := range ids {
				if q.Connection == "" || strings.EqualFold(q.Connection, q.Connections[id]) {
					r.Timeseries = append(r.Timeseries, TimeSeries{Metadata: []MetadataValue{{dimension, q.Connections[id]}},
						Data: points(m, q, buckets[id])})
				}
			}
		} else {
			var sum []Bucket
			for _, id := range ids {
				sum = add(sum, buckets[id])
			}
			if sum == nil {
				sum = h.Buckets("", q.From, q.To, q.Interval) // the times, without data
			}
			r.Timeseries = append(r.Timeseries, TimeSeries{Metadata: []MetadataValue{}, Data: points(m, q, sum)})
		}
		out.Value = append(out.Value, r)
	}
	return out
}

// add sums b into a, bucket by bucket (gauges too: the SAs of a gateway
// are those of its connections).
func add(a, b []Bucket) []Bucket {
	if a == nil {
		return slices.Clone(b)
	}
	for i := range a {
		x, y := &a[i], &b[i]
		x.Ingress += y.Ingress
		x.Egress += y.Egress
		x.IngressPackets += y.IngressPackets
		x.EgressPackets += y.EgressPackets
		x.Drops = x.Drops.Plus(y.Drops)
		x.IKESAs += y.IKESAs
		x.ChildSAs += y.ChildSAs
		x.NATFlows += y.NATFlows
		x.Clients += y.Clients
		x.Has = x.Has || y.Has
	}
	return a
}

func points(m Metric, q Query, bs []Bucket) []Point {
	out := make([]Point, 0, len(bs))
	for _, b := range bs {
		p := Point{TimeStamp: b.Start.UTC().Format(time.RFC3339)}
		if b.Has {
			v := m.value(b, q.Interval.Seconds())
			if m.Aggregation == "Total" {
				p.Total = &v
			} else {
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
		if m.Split {
			d.Dimensions = []Name{dimension}
		}
		out = append(out, d)
	}
	return out
}
