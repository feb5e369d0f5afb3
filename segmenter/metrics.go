package segmenter

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the role; labels are low-cardinality (tenant, type, outcome,
// cause), never profile or segment ids.
type metrics struct {
	updates     *prometheus.CounterVec
	transitions *prometheus.CounterVec
	published   prometheus.Counter
	conflicts   prometheus.Counter
	timers      *prometheus.CounterVec
	backfilled  *prometheus.CounterVec
	evaluations *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_segmenter_updates_total", Help: "Profile updates consumed, by outcome.",
		}, []string{"tenant", "outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_segmenter_transitions_total", Help: "Segment entries and exits, by type and cause.",
		}, []string{"tenant", "type", "cause"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "user360_segmenter_changes_published_total", Help: "Segment-change records published (republished outboxes included).",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "user360_segmenter_state_conflicts_total", Help: "Profile state writes that lost a race and were recomputed.",
		}),
		timers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_segmenter_timers_fired_total", Help: "Profile timers handled.",
		}, []string{"tenant"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_segmenter_evaluations_total", Help: "Segment rules evaluated for a profile.",
		}, []string{"tenant"}),
		backfilled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "user360_segmenter_backfill_profiles_total", Help: "Profiles evaluated by backfill.",
		}, []string{"tenant"}),
	}
	if reg != nil {
		reg.MustRegister(m.updates, m.transitions, m.published, m.conflicts, m.timers, m.backfilled, m.evaluations)
	}
	return m
}

func (m *metrics) transition(tenant string, entered bool, cause string) {
	t := "exited"
	if entered {
		t = "entered"
	}
	m.transitions.WithLabelValues(tenant, t, cause).Inc()
}
