package replay

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	records *prometheus.CounterVec
}

// newMetrics registers the replay's metrics on reg when it is not nil.
func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{records: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "user360_replay_records_total",
		Help: "Events-log records read by a replay, by outcome (applied, skipped).",
	}, []string{"outcome"})}
	if reg != nil {
		reg.MustRegister(m.records)
	}
	return m
}
