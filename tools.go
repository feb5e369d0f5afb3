//go:build tools

// Package user360 pins dependencies that are not yet imported by the code so
// that `go mod tidy` keeps them. Remove an import once real code uses it.
package user360

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/google/uuid"
	_ "github.com/nyaruka/phonenumbers"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/segmentio/analytics-go/v3"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
)
