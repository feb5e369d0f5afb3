package main

import (
	"testing"

	"github.com/user360/user360/internal/config"
)

// The shipped example configuration must stay valid.
func TestComposeConfigIsValid(t *testing.T) {
	f, err := config.LoadFile("../../config/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.NewTenants(f.Tenants); err != nil {
		t.Fatal(err)
	}
	if len(f.Kafka.Brokers) == 0 || f.Redis.URL == "" {
		t.Fatalf("%+v", f)
	}
}

func TestServeFlagsOverrideTheFile(t *testing.T) {
	t.Setenv("USER360_KAFKA_BROKERS", "")
	f, err := parseServeFlags([]string{"--config", "../../config/compose.yaml", "--kafka-brokers", "a:1,b:2", "--http-addr", ":9999"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	file, err := resolveServe(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(file.Kafka.Brokers) != 2 || file.Kafka.Brokers[1] != "b:2" || file.HTTP.Addr != ":9999" || file.Redis.URL != "redis://redis:6379/0" {
		t.Fatalf("%+v", file)
	}
	if _, err := parseRoles("ingest,nope"); err == nil {
		t.Fatal("unknown role accepted")
	}
}
