package propschema

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	problems *prometheus.CounterVec // tenant, code
	writes   *prometheus.CounterVec // tenant, kind, outcome
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "schema", Name: "problems_total",
			Help: "Values dropped by property schema validation, by problem code.",
		}, []string{"tenant", "code"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "schema", Name: "writes_total",
			Help: "Schema API writes, by kind and outcome.",
		}, []string{"tenant", "kind", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.problems, m.writes)
	}
	return m
}
