package kafka

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNoBrokers is returned when no seed broker is configured.
var ErrNoBrokers = errors.New("kafka: no brokers configured")

// ClientConfig is what every franz-go client of the pipeline shares.
type ClientConfig struct {
	Brokers  []string
	ClientID string
	// ProduceTimeout bounds how long a record may wait for the broker's
	// acknowledgement before the produce fails (default 10s).
	ProduceTimeout time.Duration
	// Linger lets the producer wait to fill batches. Default 0: send as soon
	// as the previous request to the broker is answered (batches still fill
	// while a request is in flight). franz-go's own default is 10ms, which
	// would add 10ms to every acknowledged HTTP request.
	Linger time.Duration
}

// Validate checks the configuration.
func (c ClientConfig) Validate() error {
	if len(c.Brokers) == 0 {
		return ErrNoBrokers
	}
	return nil
}

// NewClient builds a franz-go client with the pipeline's defaults: an
// idempotent producer that waits for all in-sync replicas, records that fail
// after ProduceTimeout, and the given extra options (consumer group, topics).
func NewClient(c ClientConfig, extra ...kgo.Opt) (*kgo.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.ClientID == "" {
		c.ClientID = "user360"
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = 10 * time.Second
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(c.ProduceTimeout),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(4 << 20),
		kgo.MaxBufferedRecords(1 << 20),
	}
	opts = append(opts, kgo.ProducerLinger(c.Linger))
	opts = append(opts, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client: %w", err)
	}
	return cl, nil
}
