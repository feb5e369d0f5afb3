package kafka_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/kafka"
)

// TestEmbeddedCompactsItsGroupLogSmall: with a data directory, the broker
// compacts its log of offset commits at 256 KiB (kfake's default is 10
// MiB, and compacting that much stalled every request for a while).
func TestEmbeddedCompactsItsGroupLogSmall(t *testing.T) {
	dir := t.TempDir()
	e, err := kafka.StartEmbedded(kafka.EmbeddedConfig{DataDir: dir, Partitions: 1, Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	log := filepath.Join(dir, "groups.log")
	// about 1 MiB of commit entries
	var size, shrinks int64
	for i := int64(1); i <= 8000; i++ {
		var o kadm.Offsets
		o.Add(kadm.Offset{Topic: "t", Partition: 0, At: i})
		if _, err := adm.CommitOffsets(ctx, "g", o); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(log)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() < size {
			shrinks++
		}
		size = st.Size()
	}
	if shrinks == 0 || size > 300<<10 {
		t.Fatalf("groups.log holds %d bytes after 8,000 commits and was compacted %d times; want compactions at 256 KiB", size, shrinks)
	}
}
