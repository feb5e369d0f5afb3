// Package defaults fills the zero fields of a stage's Config from its
// DefaultConfig, one line a field.
package defaults
