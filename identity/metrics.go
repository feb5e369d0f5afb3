package identity

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the identity stage (labels: tenant, type, outcome; never ids).
type metrics struct {
	messages *prometheus.CounterVec   // tenant, type, outcome
	merges   *prometheus.CounterVec   // tenant
	batch    *prometheus.HistogramVec // outcome
	api      *prometheus.CounterVec   // route, status
	scripts  *prometheus.CounterVec   // path
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "identity", Name: "messages_total",
			Help: "Events-topic messages by tenant, type and outcome (applied, duplicate, tombstoned, no_identifier, dead_letter).",
		}, []string{"tenant", "type", "outcome"}),
		merges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "identity", Name: "merges_total",
			Help: "Profiles absorbed by merges.",
		}, []string{"tenant"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "user360", Subsystem: "identity", Name: "batch_seconds",
			Help:    "Time to apply and publish one polled batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"outcome"}),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "identity", Name: "api_requests_total",
			Help: "Profile and user API requests by route and status class.",
		}, []string{"route", "status"}),
		scripts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "user360", Subsystem: "identity", Name: "script_calls_total",
			Help: "Messages by how Redis applied them: fast (as planned from the profile cache), full (apply.lua's logic, unplanned), replanned (a plan that no longer held; the full logic applied the message in the same call); fast_merge counts the fast ones that merged two profiles; halted counts messages resent because a plan before them in the same call did not hold (each is counted again on its final path); held counts a replay's messages written later without a script (HoldWrites).",
		}, []string{"path"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.messages, m.merges, m.batch, m.api, m.scripts} {
			if err := reg.Register(c); err != nil {
				// Already registered (a second Service on one registry): use
				// the existing collectors.
				if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
					switch c {
					case m.messages:
						m.messages = are.ExistingCollector.(*prometheus.CounterVec)
					case m.merges:
						m.merges = are.ExistingCollector.(*prometheus.CounterVec)
					case m.batch:
						m.batch = are.ExistingCollector.(*prometheus.HistogramVec)
					case m.api:
						m.api = are.ExistingCollector.(*prometheus.CounterVec)
					case m.scripts:
						m.scripts = are.ExistingCollector.(*prometheus.CounterVec)
					}
				}
			}
		}
	}
	return m
}
