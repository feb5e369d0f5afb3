package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/user360/user360/internal/loadgen"
)

// runLoad is `user360 load`: the project's load tool for the gateway.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c loadgen.Config
	fs := flag.NewFlagSet("user360 load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8360", "gateway base URL (a local gateway)")
	fs.StringVar(&c.WriteKey, "write-key", os.Getenv("USER360_DEV_WRITE_KEY"), "write key [USER360_DEV_WRITE_KEY]")
	fs.StringVar(&c.Mode, "mode", "batch", "batch (/v1/batch) or track (/v1/track, one event a request)")
	fs.IntVar(&c.Conns, "conns", 16, "concurrent connections")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "how long to send (at most 1h)")
	fs.IntVar(&c.BatchSize, "batch-size", 100, "events per batch request")
	fs.IntVar(&c.EventBytes, "event-bytes", 300, "approximate bytes per event")
	fs.IntVar(&c.Users, "users", 100000, "distinct user ids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := loadgen.Run(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}
