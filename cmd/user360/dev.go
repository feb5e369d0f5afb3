package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/logx"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// devFlags are the flags of `user360 dev`.
type devFlags struct {
	kafkaAddr  string
	httpAddr   string
	dataDir    string
	memoryLog  bool
	partitions int
	logLevel   string
	prefix     string
	roles      string
}

func parseDevFlags(args []string, stderr io.Writer) (*devFlags, error) {
	f := &devFlags{}
	fs := flag.NewFlagSet("user360 dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "address of the embedded Kafka-protocol broker")
	fs.StringVar(&f.httpAddr, "http-addr", envOr("USER360_HTTP_ADDR", "127.0.0.1:8360"), "address of the HTTP API (env USER360_HTTP_ADDR)")
	fs.StringVar(&f.dataDir, "data-dir", "", "persist the broker's log in this directory (default: a temporary directory, removed at exit)")
	fs.BoolVar(&f.memoryLog, "memory-log", false, "keep the broker's log in the process's memory instead of a temporary directory (slower: see docs/BENCHMARKS.md)")
	fs.IntVar(&f.partitions, "partitions", 4, "partitions of each topic")
	fs.StringVar(&f.logLevel, "log-level", envOr("USER360_LOG_LEVEL", "info"), "debug, info, warn or error (env USER360_LOG_LEVEL)")
	fs.StringVar(&f.prefix, "topic-prefix", envOr("USER360_TOPIC_PREFIX", schemas.DefaultTopicPrefix), "prefix of the topic names (env USER360_TOPIC_PREFIX)")
	fs.StringVar(&f.roles, "roles", strings.Join(allRoles, ","), "roles to run (benchmarks run the gateway alone with --roles ingest)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: user360 dev [flags]\n\nRuns every role in one process on an embedded Kafka-protocol broker.\nRedis: USER360_REDIS_URL when set, else an embedded in-memory Redis.\nTenant \"demo\": keys from USER360_DEV_WRITE_KEY / USER360_DEV_API_KEY, else generated.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return f, nil
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseDevFlags(args, stderr)
	if err != nil {
		return err
	}
	roles, err := parseRoles(f.roles)
	if err != nil {
		return err
	}
	log := logx.New(f.logLevel, false)
	topics := schemas.NewTopics(f.prefix)
	logDir, removeLogDir := devLogDir(f, log)
	defer removeLogDir() // after the broker closed (deferred below)
	broker, err := kafka.StartEmbedded(kafka.EmbeddedConfig{
		Addr: f.kafkaAddr, DataDir: logDir, Partitions: int32(f.partitions), Topics: topics.All(),
	})
	if err != nil {
		return err
	}
	defer broker.Close()

	rdb, closeRedis, embeddedRedis, err := devRedis(ctx, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	var rebuild []string
	if embeddedRedis {
		// The embedded Redis starts empty: replay the (possibly persisted)
		// log into it by starting the stateful consumers from the beginning.
		rebuild = []string{identity.DefaultConfig().Group, segmenter.DefaultConfig().Group}
	}

	writeKey := envOr("USER360_DEV_WRITE_KEY", "wk_"+randomHex(12))
	apiKey := envOr("USER360_DEV_API_KEY", "ak_"+randomHex(12))
	tenants, err := config.NewTenants([]config.Tenant{{
		ID: "demo", WriteKeys: []string{writeKey}, APIKeys: []string{apiKey},
		AllowPrivateWebhooks: true,
	}})
	if err != nil {
		return err
	}
	cfg := stackConfig{
		Roles: roles, Brokers: broker.Addrs(), TopicPrefix: f.prefix, Partitions: int32(f.partitions),
		Redis: rdb, Tenants: tenants, HTTPAddr: f.httpAddr, Log: log,
		RebuildFromLog: rebuild,
	}
	first := true
	return runGenerations(ctx, cfg, 0, func(st *stack) {
		if !first {
			return
		}
		first = false
		fmt.Fprintf(stdout, `User360 dev is running.
  HTTP API      http://%s
  Kafka broker  %s   (topics %s…)
  Tenant        demo
  Write key     %s   (tracking API: HTTP Basic user name)
  API key       %s   (Authorization: Bearer …)
`, st.server.Addr(), broker.Addrs()[0], f.prefix, writeKey, apiKey)
	})
}

// devRedis connects to USER360_REDIS_URL or starts an embedded Redis.
func devRedis(ctx context.Context, log zerolog.Logger) (rdb redis.UniversalClient, closeFn func(), embedded bool, err error) {
	if url := os.Getenv("USER360_REDIS_URL"); url != "" {
		rdb, err := redisx.Connect(ctx, url)
		if err != nil {
			return nil, nil, false, err
		}
		return rdb, func() { _ = rdb.Close() }, false, nil
	}
	emb, err := redisx.StartEmbedded()
	if err != nil {
		return nil, nil, false, err
	}
	rdb, err = redisx.Connect(ctx, emb.URL())
	if err != nil {
		emb.Close()
		return nil, nil, false, err
	}
	log.Warn().Str("redis", emb.Addr()).Msg("USER360_REDIS_URL is not set: state is in an embedded in-memory Redis (with --data-dir it is rebuilt from the persisted log at the next start)")
	return rdb, func() { _ = rdb.Close(); emb.Close() }, true, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// devLogDir is where the embedded broker keeps its log: --data-dir, else
// a new temporary directory that the returned function removes, else (with
// --memory-log, or when no temporary directory can be made) the process's
// memory (""). A temporary directory rather than memory by default: kept
// in the Go heap, the log makes the heap grow by two to three times its
// size, every page of it new memory, and the garbage collector's cycles
// longer; in the page cache it costs write calls only (end-to-end p99 at
// 5,000 events/s: about 120 ms against 250–620 ms, docs/BENCHMARKS.md).
func devLogDir(f *devFlags, log zerolog.Logger) (string, func()) {
	if f.dataDir != "" || f.memoryLog {
		return f.dataDir, func() {}
	}
	dir, err := os.MkdirTemp("", "user360-dev-log-")
	if err != nil {
		log.Warn().Err(err).Msg("no temporary directory for the broker's log; keeping it in memory")
		return "", func() {}
	}
	return dir, func() { _ = os.RemoveAll(dir) }
}
