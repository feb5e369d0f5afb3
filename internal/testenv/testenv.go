package testenv

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/schemas"
)

// RedisURL is the real server the tests use.
func RedisURL() string {
	if u := os.Getenv("USER360_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Redis connects to the real Redis server; the test fails if none answers.
func Redis(t testing.TB) redis.UniversalClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := redisx.Connect(ctx, RedisURL())
	if err != nil {
		t.Fatalf("testenv: the real Redis server must answer (start redis-server or set USER360_TEST_REDIS_URL): %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// MiniRedis starts an embedded in-process Redis for the test.
func MiniRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	e, err := redisx.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := redisx.Connect(context.Background(), e.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Backend is one Redis implementation a shared store suite runs against.
type Backend struct {
	Name   string
	Client func(t testing.TB) redis.UniversalClient
}

// RedisBackends lists the real server and the embedded one, for suites that
// must hold on both.
func RedisBackends() []Backend {
	return []Backend{{"redis-server", Redis}, {"miniredis", MiniRedis}}
}

// Namespace returns a key prefix no other test uses, e.g. "t3f9a1c2".
func Namespace(t testing.TB) string {
	return "t" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
}

// Tenant returns a tenant id no other test uses.
func Tenant(t testing.TB) string { return "tn" + strings.ReplaceAll(uuid.NewString(), "-", "")[:10] }

// Kafka starts an embedded broker with the pipeline's topics (prefix "user360.").
func Kafka(t testing.TB) (*kafka.Embedded, schemas.Topics) {
	t.Helper()
	topics := schemas.NewTopics("")
	e, err := kafka.StartEmbedded(kafka.EmbeddedConfig{Partitions: 4, Topics: topics.All()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, topics
}

// Client returns a plain franz-go client on the broker, closed at cleanup.
func Client(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kafka.NewClient(kafka.ClientConfig{Brokers: brokers}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ReadAll consumes a topic from the start until want records arrived or the
// timeout passed, and returns what it got.
func ReadAll(t testing.TB, brokers []string, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		out = append(out, f.Records()...)
	}
	return out
}
