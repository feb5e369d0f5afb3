package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/logx"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/schemas"
)

// serveFlags are the flags of `user360 serve`; each falls back to the
// environment, then to the config file.
type serveFlags struct {
	configPath string
	roles      string
	brokers    string
	redisURL   string
	httpAddr   string
	prefix     string
	partitions int
	logLevel   string
}

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("user360 serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configPath, "config", os.Getenv("USER360_CONFIG"), "YAML configuration file (tenants, Kafka, Redis) [USER360_CONFIG]")
	fs.StringVar(&f.roles, "roles", envOr("USER360_ROLES", strings.Join(allRoles, ",")), "comma-separated roles to run [USER360_ROLES]")
	fs.StringVar(&f.brokers, "kafka-brokers", os.Getenv("USER360_KAFKA_BROKERS"), "comma-separated Kafka seed brokers [USER360_KAFKA_BROKERS]")
	fs.StringVar(&f.redisURL, "redis-url", os.Getenv("USER360_REDIS_URL"), "redis://, rediss:// or redis+cluster:// URL [USER360_REDIS_URL]")
	fs.StringVar(&f.httpAddr, "http-addr", envOr("USER360_HTTP_ADDR", ""), "HTTP listen address (default :8360) [USER360_HTTP_ADDR]")
	fs.StringVar(&f.prefix, "topic-prefix", os.Getenv("USER360_TOPIC_PREFIX"), "topic name prefix (default user360.) [USER360_TOPIC_PREFIX]")
	fs.IntVar(&f.partitions, "partitions", 0, "partitions of topics the process creates (default 12)")
	fs.StringVar(&f.logLevel, "log-level", envOr("USER360_LOG_LEVEL", "info"), "debug, info, warn or error [USER360_LOG_LEVEL]")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return f, nil
}

// resolveServe layers flags and env over the config file.
func resolveServe(f *serveFlags) (*config.File, error) {
	file := &config.File{}
	if f.configPath != "" {
		var err error
		if file, err = config.LoadFile(f.configPath); err != nil {
			return nil, err
		}
	}
	if f.brokers != "" {
		file.Kafka.Brokers = strings.Split(f.brokers, ",")
	}
	if f.redisURL != "" {
		file.Redis.URL = f.redisURL
	}
	if f.httpAddr != "" {
		file.HTTP.Addr = f.httpAddr
	}
	if f.prefix != "" {
		file.Kafka.TopicPrefix = f.prefix
	}
	if f.partitions > 0 {
		file.Kafka.Partitions = int32(f.partitions)
	}
	if file.HTTP.Addr == "" {
		file.HTTP.Addr = ":8360"
	}
	if file.Kafka.TopicPrefix == "" {
		file.Kafka.TopicPrefix = schemas.DefaultTopicPrefix
	}
	if file.Kafka.Partitions <= 0 {
		file.Kafka.Partitions = 12
	}
	if len(file.Kafka.Brokers) == 0 {
		return nil, errors.New("no Kafka brokers: set --kafka-brokers, USER360_KAFKA_BROKERS or kafka.brokers in the config file")
	}
	if len(file.Tenants) == 0 {
		return nil, errors.New("no tenants: declare them in the config file (--config)")
	}
	return file, nil
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	roles, err := parseRoles(f.roles)
	if err != nil {
		return err
	}
	file, err := resolveServe(f)
	if err != nil {
		return err
	}
	tenants, err := config.NewTenants(file.Tenants)
	if err != nil {
		return err
	}
	log := logx.New(f.logLevel, false)
	cfg := stackConfig{
		Roles: roles, Brokers: file.Kafka.Brokers, TopicPrefix: file.Kafka.TopicPrefix, Partitions: file.Kafka.Partitions,
		Tenants: tenants, HTTPAddr: file.HTTP.Addr, Log: log,
	}
	if needsRedis(roles) {
		if file.Redis.URL == "" {
			return fmt.Errorf("roles %v need Redis: set --redis-url, USER360_REDIS_URL or redis.url", roles)
		}
		rdb, err := redisx.Connect(ctx, file.Redis.URL)
		if err != nil {
			return err
		}
		defer rdb.Close()
		cfg.Redis = rdb
	}
	return runGenerations(ctx, cfg, 0, nil)
}

func needsRedis(roles []string) bool {
	for _, r := range roles {
		if r != "ingest" {
			return true
		}
	}
	return false
}
