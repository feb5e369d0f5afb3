// Command connector reads Segment-spec messages, one JSON object per line,
// from standard input and produces them to the User360 events topic with
// kafka-go.
//
//	echo '{"type":"track","userId":"42","event":"Order Completed"}' |
//	  go run ./examples/connector/cmd/connector -brokers 127.0.0.1:9092 -tenant demo
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/user360/user360/examples/connector"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated Kafka brokers")
	tenant := flag.String("tenant", "demo", "tenant id")
	topic := flag.String("topic", connector.DefaultTopic, "events topic")
	source := flag.String("source", "connector", "user360-source header")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, strings.Split(*brokers, ","), *tenant, *topic, *source); err != nil {
		fmt.Fprintln(os.Stderr, "connector:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers []string, tenant, topic, source string) error {
	p, err := connector.NewProducer(connector.Config{Brokers: brokers, Tenant: tenant, Topic: topic, Source: source})
	if err != nil {
		return err
	}
	defer p.Close()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line, sent := 0, 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			fmt.Fprintf(os.Stderr, "line %d: not a JSON object: %v\n", line, err)
			continue
		}
		if err := p.Send(ctx, m); err != nil {
			fmt.Fprintf(os.Stderr, "line %d: %v\n", line, err)
			continue
		}
		sent++
	}
	fmt.Fprintf(os.Stderr, "sent %d messages\n", sent)
	return sc.Err()
}
