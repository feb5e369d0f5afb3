package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
)

// Defs starts a definitions store on the broker, waits until it has read
// the topic, and stops it at cleanup.
func Defs(t testing.TB, brokers []string, topic string) *defs.Store {
	t.Helper()
	s, err := defs.New(defs.Config{Client: kafka.ClientConfig{Brokers: brokers}, Topic: topic}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := s.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return s
}
