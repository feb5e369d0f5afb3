package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/logx"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
)

// replayFlags are the flags of `user360 replay`.
type replayFlags struct {
	configPath, brokers, redisURL, prefix, logLevel string
	from, to, tenant, target, switchTo, segment     string
	dryRun, noSwitch, intoLive, resume, devTenant   bool
	batch                                           int
}

func parseReplayFlags(args []string, stderr io.Writer) (*replayFlags, error) {
	f := &replayFlags{}
	fs := flag.NewFlagSet("user360 replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configPath, "config", os.Getenv("USER360_CONFIG"), "YAML configuration file (tenants, Kafka, Redis) [USER360_CONFIG]")
	fs.StringVar(&f.brokers, "kafka-brokers", os.Getenv("USER360_KAFKA_BROKERS"), "comma-separated Kafka seed brokers [USER360_KAFKA_BROKERS]")
	fs.StringVar(&f.redisURL, "redis-url", os.Getenv("USER360_REDIS_URL"), "redis://, rediss:// or redis+cluster:// URL [USER360_REDIS_URL]")
	fs.StringVar(&f.prefix, "topic-prefix", os.Getenv("USER360_TOPIC_PREFIX"), "topic name prefix (default user360.) [USER360_TOPIC_PREFIX]")
	fs.StringVar(&f.logLevel, "log-level", envOr("USER360_LOG_LEVEL", "warn"), "debug, info, warn or error")
	fs.StringVar(&f.from, "from", "earliest", `first record time to replay: "earliest" or RFC 3339`)
	fs.StringVar(&f.to, "to", "", "last record time to replay (RFC 3339; later records are skipped; needs --no-switch or --into-live)")
	fs.StringVar(&f.tenant, "tenant", "", "replay only this tenant's records (needs --into-live or --segment)")
	fs.StringVar(&f.segment, "segment", "", "backfill this segment of --tenant from the log window (--from, --to) into the live namespace, publishing its entries and exits")
	fs.StringVar(&f.target, "target", "", "namespace of the new generation (default: the next one, e.g. u360g2)")
	fs.StringVar(&f.switchTo, "switch-to", "", "only activate a generation built earlier with --no-switch (or switch back to an older one), e.g. u360g2")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what the replay would do and exit")
	fs.BoolVar(&f.noSwitch, "no-switch", false, "build the new generation but leave the live one active")
	fs.BoolVar(&f.intoLive, "into-live", false, "re-apply the records into the active namespace (idempotent; no new generation, no switch)")
	fs.BoolVar(&f.resume, "resume", false, "restart an interrupted replay: delete what it left in the target generation, then replay")
	fs.BoolVar(&f.devTenant, "dev", false, `without --config: the tenants of "user360 dev" (tenant demo, default rules)`)
	fs.IntVar(&f.batch, "batch", replay.DefaultBatch, "records per identity batch")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: user360 replay [flags]

Rebuilds profiles, identities, counters and segment memberships from the
events log into a new Redis namespace (a generation) while the live one
keeps serving, then switches over atomically (live processes follow within
a second). See docs/REPLAY.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := f.checkSegment(); err != nil {
		return nil, err
	}
	return f, nil
}

// parseTime reads an RFC 3339 time; "" and "earliest" are zero.
func parseTime(flagName, v string) (time.Time, error) {
	if v == "" || v == "earliest" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s: %q is not \"earliest\" or an RFC 3339 time (2025-01-31T00:00:00Z)", flagName, v)
	}
	return t, nil
}

// replayOptions turns flags into replay options (connections excluded).
func replayOptions(f *replayFlags) (replay.Options, *config.File, error) {
	var o replay.Options
	file := &config.File{}
	if f.configPath != "" {
		var err error
		if file, err = config.LoadFile(f.configPath); err != nil {
			return o, nil, err
		}
	}
	if f.brokers != "" {
		file.Kafka.Brokers = strings.Split(f.brokers, ",")
	}
	if f.redisURL != "" {
		file.Redis.URL = f.redisURL
	}
	if f.prefix != "" {
		file.Kafka.TopicPrefix = f.prefix
	}
	if file.Kafka.TopicPrefix == "" {
		file.Kafka.TopicPrefix = schemas.DefaultTopicPrefix
	}
	switch {
	case len(file.Kafka.Brokers) == 0:
		return o, nil, errors.New("no Kafka brokers: set --kafka-brokers, USER360_KAFKA_BROKERS or kafka.brokers in the config file")
	case file.Redis.URL == "":
		return o, nil, errors.New("no Redis: set --redis-url, USER360_REDIS_URL or redis.url in the config file")
	}
	tenants := file.Tenants
	if len(tenants) == 0 && f.switchTo != "" {
		tenants = []config.Tenant{{ID: "none"}} // switching reads no tenant rules
	}
	if len(tenants) == 0 {
		if !f.devTenant {
			return o, nil, errors.New("no tenants: the replay needs each tenant's identity rules; pass --config (or --dev for the tenant of user360 dev)")
		}
		tenants = []config.Tenant{{ID: "demo", AllowPrivateWebhooks: true}}
	}
	ts, err := config.NewTenants(tenants)
	if err != nil {
		return o, nil, err
	}
	from, err := parseTime("from", f.from)
	if err != nil {
		return o, nil, err
	}
	to, err := parseTime("to", f.to)
	if err != nil {
		return o, nil, err
	}
	o = replay.Options{
		Kafka:  kafka.ClientConfig{Brokers: file.Kafka.Brokers, ClientID: "user360-replay"},
		Topics: schemas.NewTopics(file.Kafka.TopicPrefix), Tenants: ts,
		From: from, To: to, Tenant: f.tenant, IntoLive: f.intoLive, DryRun: f.dryRun, NoSwitch: f.noSwitch,
		Target: f.target, Resume: f.resume, Batch: f.batch, Segment: f.segment,
	}
	return o, file, nil
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseReplayFlags(args, stderr)
	if err != nil {
		return err
	}
	o, file, err := replayOptions(f)
	if err != nil {
		return err
	}
	rdb, err := redisx.Connect(ctx, file.Redis.URL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	o.Redis = rdb
	o.Log = logx.New(f.logLevel, false)
	if f.switchTo != "" {
		live, err := replay.ActiveNamespace(ctx, rdb, replay.DefaultBase)
		if err != nil {
			return err
		}
		o.Target = f.switchTo
		if err := replay.SwitchTo(ctx, o); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "switched: %s is the active generation (was %s); live processes follow within a second\n", f.switchTo, live)
		return nil
	}
	o.Progress = stderr
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
		o.Terminal = true
	}
	res, err := replay.Run(ctx, o)
	if f.dryRun && err == nil {
		res.Plan.Print(stdout)
		fmt.Fprintln(stdout, "dry run: nothing was written")
		return nil
	}
	if err != nil {
		if res.Read > 0 && f.segment != "" {
			fmt.Fprintf(stderr, "segment backfill stopped after %d of %d records; it is idempotent: run it again\n", res.Read, res.Plan.Records)
		} else if res.Read > 0 {
			fmt.Fprintf(stderr, "replay stopped after %d of %d records; %s is not active (re-run with --resume --target %s)\n", res.Read, res.Plan.Records, res.Plan.Target, res.Plan.Target)
		}
		return err
	}
	if res.Segment != nil {
		printSegmentResult(stdout, res)
		return nil
	}
	printResult(stdout, res)
	return nil
}

// printResult summarises a finished replay.
func printResult(w io.Writer, res replay.Result) {
	fmt.Fprintf(w, "replayed %d records (%d applied, %d skipped) into %s in %s: %.0f records/s\n",
		res.Read, res.Applied, res.Skipped, res.Plan.Target, res.Duration.Round(time.Millisecond), res.Rate())
	switch {
	case res.Switched:
		fmt.Fprintf(w, "switched: %s is the active generation (was %s); live processes follow within a second\n", res.Plan.Target, res.Plan.Live)
	case res.Plan.IntoLive:
		fmt.Fprintf(w, "re-applied into the live namespace %s\n", res.Plan.Target)
	default:
		fmt.Fprintf(w, "not switched: %s is built; the live generation is still %s\n", res.Plan.Target, res.Plan.Live)
	}
}
