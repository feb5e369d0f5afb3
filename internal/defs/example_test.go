package defs_test

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
)

func ExampleStore() {
	broker, _ := kafka.StartEmbedded(kafka.EmbeddedConfig{})
	defer broker.Close()
	s, _ := defs.New(defs.Config{Client: kafka.ClientConfig{Brokers: broker.Addrs()}, Topic: "user360.definitions"}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	_ = s.WaitReady(ctx)

	_ = s.Put(ctx, "segment", "demo", "vip", map[string]string{"name": "VIP"})
	v, ok := s.Get("segment", "demo", "vip")
	fmt.Println(string(v), ok)
	cancel()
	<-done
	// Output: {"name":"VIP"} true
}
