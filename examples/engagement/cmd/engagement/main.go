// Command engagement prints the segment entries and exits of the User360
// segment-changes topic, consuming with kafka-go in its own group.
//
//	go run ./examples/engagement/cmd/engagement -brokers 127.0.0.1:9092
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/user360/user360/examples/engagement"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated Kafka brokers")
	topic := flag.String("topic", engagement.DefaultTopic, "segment-changes topic")
	group := flag.String("group", "engagement-example", "consumer group")
	latest := flag.Bool("latest", false, "start a new group at the end of the topic")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := engagement.Consume(ctx, engagement.Config{Brokers: strings.Split(*brokers, ","), Topic: *topic, GroupID: *group, FromLatest: *latest},
		func(_ context.Context, c engagement.Change) error {
			verb := "EXIT "
			if c.Entered() {
				verb = "ENTER"
			}
			fmt.Printf("%s tenant=%s segment=%s (%s) profile=%s user=%s at=%s cause=%s\n",
				verb, c.Tenant, c.SegmentID, c.SegmentName, c.ProfileID, c.UserID, c.Timestamp.Format("2006-01-02T15:04:05Z07:00"), c.Cause)
			return nil
		})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
