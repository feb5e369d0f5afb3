package main

import (
	"io"
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

// TestDevReadsTheEnvironment: dev takes USER360_HTTP_ADDR,
// USER360_LOG_LEVEL and USER360_TOPIC_PREFIX as the README says; flags
// still win.
func TestDevReadsTheEnvironment(t *testing.T) {
	t.Setenv("USER360_HTTP_ADDR", "127.0.0.1:18999")
	t.Setenv("USER360_LOG_LEVEL", "warn")
	t.Setenv("USER360_TOPIC_PREFIX", "env.")
	f, err := parseDevFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.httpAddr != "127.0.0.1:18999" || f.logLevel != "warn" || f.prefix != "env." {
		t.Fatalf("from the environment: %+v", f)
	}
	f, err = parseDevFlags([]string{"--log-level", "debug"}, io.Discard)
	if err != nil || f.logLevel != "debug" {
		t.Fatalf("the flag did not win: %+v %v", f, err)
	}
}
