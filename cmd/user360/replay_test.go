package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestReplayCommand: --dry-run prints the plan and writes nothing; the
// real run prints its summary and switches.
func TestReplayCommand(t *testing.T) {
	k, topics := testenv.Kafka(t)
	emb, err := redisx.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	cl := testenv.Client(t, k.Addrs())
	ev := schemas.Event{Type: "identify", MessageID: "c1", UserID: "cmd-user", Timestamp: time.Now().UTC(), ReceivedAt: time.Now().UTC()}
	if err := ingest.NewPublisher(cl, topics, "test").Publish(context.Background(), "demo", []schemas.Event{ev}, nil); err != nil {
		t.Fatal(err)
	}
	args := []string{"replay", "--kafka-brokers", k.Addrs()[0], "--redis-url", emb.URL(), "--dev"}
	var out, errOut bytes.Buffer
	if code := run(append(args, "--dry-run"), &out, &errOut); code != 0 {
		t.Fatalf("dry run exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"target          u360g2", "records         1", "dry run: nothing was written"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("dry-run output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errOut.Reset()
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "replayed 1 records (1 applied, 0 skipped) into u360g2") || !strings.Contains(out.String(), "switched: u360g2 is the active generation (was u360)") {
		t.Fatalf("output %q", out.String())
	}
	if !strings.Contains(errOut.String(), "replay: 1/1 records (100.0%)") {
		t.Fatalf("progress %q", errOut.String())
	}
	// Switching back to generation 1.
	out.Reset()
	if code := run(append(args, "--switch-to", "u360"), &out, &errOut); code != 0 || !strings.Contains(out.String(), "switched: u360 is the active generation (was u360g2)") {
		t.Fatalf("switch back: exit %d %q %q", code, out.String(), errOut.String())
	}
}

// TestReplayCommandRefuses: bad flags get a clear error.
func TestReplayCommandRefuses(t *testing.T) {
	t.Setenv("USER360_CONFIG", "")
	cases := map[string][]string{
		"--config": {"replay", "--kafka-brokers", "127.0.0.1:1", "--redis-url", "redis://127.0.0.1:1"},
		"RFC 3339": {"replay", "--kafka-brokers", "127.0.0.1:1", "--redis-url", "redis://127.0.0.1:1", "--dev", "--from", "yesterday"},
		"Kafka":    {"replay", "--kafka-brokers", "", "--redis-url", "redis://127.0.0.1:1", "--dev"},
	}
	for want, args := range cases {
		var out, errOut bytes.Buffer
		t.Setenv("USER360_KAFKA_BROKERS", "")
		if code := run(args, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("%v: exit %d, stderr %q (want it to mention %q)", args, code, errOut.String(), want)
		}
	}
}
