package ingest

import "github.com/prometheus/client_golang/prometheus"

// metrics of the gateway; labels are low cardinality (route, status code,
// tenant, message type, reject code).
type metrics struct {
	requests *prometheus.CounterVec
	messages *prometheus.CounterVec
	rejects  *prometheus.CounterVec
	produce  prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_ingest_requests_total", Help: "Tracking API requests by route and status code.",
		}, []string{"route", "code"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_ingest_messages_total", Help: "Messages accepted into the events topic.",
		}, []string{"tenant", "type"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_ingest_rejected_total", Help: "Messages rejected to the dead-letter topic, by reason code.",
		}, []string{"tenant", "code"}),
		produce: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "user360_ingest_produce_seconds", Help: "Time from produce to the broker's acknowledgement, per request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.messages, m.rejects, m.produce)
	}
	return m
}
