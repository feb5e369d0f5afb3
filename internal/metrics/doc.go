// Package metrics holds User360's Prometheus registry. Labels are low
// cardinality: tenant ids, call types, outcomes, destination ids; never a user
// or profile id.
package metrics
