package csvimport

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	rows    *prometheus.CounterVec // tenant, outcome (new, updated, failed, empty)
	jobs    *prometheus.CounterVec // tenant, status (completed, failed)
	dead    *prometheus.CounterVec // tenant: dead letters published
	batches *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "import", Name: "rows_total",
			Help: "CSV rows imported, by outcome (new, updated, failed, empty).",
		}, []string{"tenant", "outcome"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "import", Name: "jobs_total",
			Help: "Finished imports, by status.",
		}, []string{"tenant", "status"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "import", Name: "dead_letters_total",
			Help: "Invalid values and rows sent to the dead-letter topic by imports.",
		}, []string{"tenant"}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "user360", Subsystem: "import", Name: "publish_seconds",
			Help:    "Time to publish one batch of rows to the log.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"tenant"}),
	}
	if reg != nil {
		reg.MustRegister(m.rows, m.jobs, m.dead, m.batches)
	}
	return m
}
