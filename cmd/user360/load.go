package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/user360/user360/internal/loadgen"
)

// runLoad is `user360 load`: the project's load tool. Modes batch and track
// load the gateway; mode pipeline sends identify calls and waits for their
// segment.entered records, measuring the whole pipeline.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c loadgen.Config
	var p loadgen.PipelineConfig
	var brokers string
	fs := flag.NewFlagSet("user360 load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8360", "gateway base URL (a local gateway)")
	fs.StringVar(&c.WriteKey, "write-key", os.Getenv("USER360_DEV_WRITE_KEY"), "write key [USER360_DEV_WRITE_KEY]")
	fs.StringVar(&c.Mode, "mode", "batch", "batch (/v1/batch), track (/v1/track, one event a request) or pipeline (gateway → segment.entered)")
	fs.IntVar(&c.Conns, "conns", 16, "concurrent connections")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "how long to send, modes batch and track (at most 1h)")
	fs.IntVar(&c.BatchSize, "batch-size", 100, "events per batch request")
	fs.IntVar(&c.EventBytes, "event-bytes", 300, "approximate bytes per event")
	fs.IntVar(&c.Users, "users", 100000, "distinct user ids")
	fs.StringVar(&p.APIKey, "api-key", os.Getenv("USER360_DEV_API_KEY"), "pipeline: API key [USER360_DEV_API_KEY]")
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "pipeline: Kafka brokers, to read segment changes")
	fs.IntVar(&p.Rate, "rate", 0, "events per second over all connections (0: as fast as accepted)")
	fs.IntVar(&p.Events, "events", 100000, "pipeline: events to send")
	fs.IntVar(&p.ExtraSegments, "extra-segments", 99, "pipeline: segments defined besides the measured one")
	fs.BoolVar(&p.Stages, "stages", false, "pipeline: also split the latency by stage (identity, segmenter) from the records' timestamps")
	fs.DurationVar(&p.Series, "series", 0, "pipeline: also report the latency per window of this length (e.g. 1s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Mode == "pipeline" {
		p.URL, p.WriteKey, p.BatchSize, p.Conns = c.URL, c.WriteKey, c.BatchSize, c.Conns
		p.Brokers = strings.Split(brokers, ",")
		res, err := loadgen.RunPipeline(ctx, p)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res)
		return nil
	}
	c.Rate = p.Rate
	res, err := loadgen.Run(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}
