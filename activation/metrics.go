package activation

import "github.com/prometheus/client_golang/prometheus"

// metrics are the role's Prometheus collectors. Labels are low-cardinality:
// tenant, destination id, outcome; never user or profile ids.
type metrics struct {
	calls     *prometheus.CounterVec   // tenant destination outcome(delivered retry failed)
	latency   *prometheus.HistogramVec // tenant destination: topic → delivered
	breaker   *prometheus.GaugeVec     // tenant destination: 1 when open
	parked    *prometheus.CounterVec   // tenant: jobs parked by the consumer
	malformed prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "activation", Name: "calls_total",
			Help: "Webhook calls by destination and outcome (delivered, retry, failed).",
		}, []string{"tenant", "destination", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "user360", Subsystem: "activation", Name: "delivery_latency_seconds",
			Help:    "Time from the segment change on the topic to its successful delivery.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
		}, []string{"tenant", "destination"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "user360", Subsystem: "activation", Name: "breaker_open",
			Help: "1 while a destination's circuit breaker is open.",
		}, []string{"tenant", "destination"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "activation", Name: "jobs_parked_total",
			Help: "Deliveries parked in Redis by the segment-changes consumer.",
		}, []string{"tenant"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "activation", Name: "malformed_records_total",
			Help: "Segment-change records sent to the dead-letter topic because they could not be read.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.latency, m.breaker, m.parked, m.malformed)
	}
	return m
}

func (m *metrics) forget(tenant, dest string) {
	for _, o := range []string{"delivered", "retry", "failed"} {
		m.calls.DeleteLabelValues(tenant, dest, o)
	}
	m.latency.DeleteLabelValues(tenant, dest)
	m.breaker.DeleteLabelValues(tenant, dest)
}
