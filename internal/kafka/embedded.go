package kafka

import (
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedConfig configures the in-process Kafka-protocol broker.
type EmbeddedConfig struct {
	// Addr is host:port to listen on; port 0 picks a free one.
	Addr string
	// DataDir persists the log across restarts when set.
	DataDir string
	// Partitions is the partition count of the topics created at start.
	Partitions int32
	// Topics are created at start.
	Topics []string
}

// groupsLogCompactBytes is when the broker compacts its log of consumer
// group state (offset commits, one JSON line each). kfake compacts it in
// its one request loop, reading and decoding the whole file, so every
// request waits meanwhile: at its default, 10 MiB, the pipeline's latency
// showed 250-440 ms bursts every 20-25 s at 5,000 events/s. A small file
// cuts the same total work into short stalls (docs/BENCHMARKS.md,
// "Seventh session").
const groupsLogCompactBytes = 256 << 10

// Embedded is a kfake cluster: a broker that speaks the Kafka wire protocol,
// so clients (ours and anyone else's) talk to it over TCP exactly as to Kafka.
type Embedded struct {
	cluster *kfake.Cluster
}

// StartEmbedded starts a one-broker cluster.
func StartEmbedded(c EmbeddedConfig) (*Embedded, error) {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Partitions <= 0 {
		c.Partitions = 4
	}
	host, portStr, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("kafka: embedded broker address %q: %w", c.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("kafka: embedded broker port %q: %w", portStr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(int(c.Partitions)),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.GroupMinSessionTimeout(100e6),
	}
	if len(c.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(c.Partitions, c.Topics...))
	}
	if c.DataDir != "" {
		opts = append(opts, kfake.DataDir(c.DataDir), kfake.BrokerConfigs(map[string]string{
			"state.log.compact.bytes": strconv.Itoa(groupsLogCompactBytes),
		}))
	}
	cl, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: start embedded broker: %w", err)
	}
	return &Embedded{cluster: cl}, nil
}

// Addrs returns the broker addresses.
func (e *Embedded) Addrs() []string { return e.cluster.ListenAddrs() }

// Cluster exposes the kfake cluster for tests (control hooks).
func (e *Embedded) Cluster() *kfake.Cluster { return e.cluster }

// Close stops the broker and flushes its log to the data dir.
func (e *Embedded) Close() { e.cluster.Close() }
