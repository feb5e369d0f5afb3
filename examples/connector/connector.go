package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Header names and values of the events topic contract.
const (
	HeaderTenant      = "user360-tenant"
	HeaderSchema      = "user360-schema"
	HeaderSource      = "user360-source"
	HeaderContentType = "content-type"
	SchemaEvent       = "event/v1"
	DefaultTopic      = "user360.events"
)

// ErrInvalidMessage is returned for messages the events topic would reject.
var ErrInvalidMessage = errors.New("connector: invalid message")

// Config configures a Producer.
type Config struct {
	Brokers []string
	Tenant  string
	// Topic defaults to DefaultTopic.
	Topic string
	// Source names the connector in the user360-source header
	// (default "connector").
	Source string
	// BatchTimeout bounds how long the writer waits to fill a batch
	// (default 5ms; kafka-go's own default of 1s adds a second of latency
	// to every synchronous Send).
	BatchTimeout time.Duration
}

// Producer sends Segment-spec messages of one tenant to the events topic.
type Producer struct {
	w      *kafka.Writer
	tenant string
	source string
}

// NewProducer builds a producer; it connects on the first Send.
func NewProducer(cfg Config) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("connector: no brokers")
	}
	if cfg.Tenant == "" || strings.ContainsAny(cfg.Tenant, "/{}: ") {
		return nil, fmt.Errorf("connector: invalid tenant %q", cfg.Tenant)
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.Source == "" {
		cfg.Source = "connector"
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 5 * time.Millisecond
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: cfg.BatchTimeout,
		// The pipeline's topics exist; never create a mistyped one.
		AllowAutoTopicCreation: false,
		MaxAttempts:            10,
	}
	return &Producer{w: w, tenant: cfg.Tenant, source: cfg.Source}, nil
}

// Close flushes and closes the writer.
func (p *Producer) Close() error { return p.w.Close() }

var messageTypes = map[string]bool{"identify": true, "track": true, "page": true, "screen": true, "group": true, "alias": true}

// Send validates and writes messages, filling messageId, timestamp and
// receivedAt when absent, and returns once the broker acknowledged all of
// them (acks=all). The maps are modified in place, so sending the same maps
// again after an error reuses their messageIds and identity applies each
// message once. Nothing is sent if one message is invalid.
func (p *Producer) Send(ctx context.Context, msgs ...map[string]any) error {
	out := make([]kafka.Message, 0, len(msgs))
	for i, m := range msgs {
		key, err := normalise(m)
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		v, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("message %d: %w: %v", i, ErrInvalidMessage, err)
		}
		out = append(out, kafka.Message{
			Key:   []byte(p.tenant + "/" + key),
			Value: v,
			Headers: []kafka.Header{
				{Key: HeaderTenant, Value: []byte(p.tenant)},
				{Key: HeaderSchema, Value: []byte(SchemaEvent)},
				{Key: HeaderSource, Value: []byte(p.source)},
				{Key: HeaderContentType, Value: []byte("application/json")},
			},
		})
	}
	if err := p.w.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("connector: write: %w", err)
	}
	return nil
}

// normalise checks a message and fills messageId, timestamp and
// receivedAt; it returns
// the identity the record is keyed by.
func normalise(m map[string]any) (string, error) {
	typ, _ := m["type"].(string)
	if !messageTypes[typ] {
		return "", fmt.Errorf("%w: type must be one of identify, track, page, screen, group, alias", ErrInvalidMessage)
	}
	user, _ := m["userId"].(string)
	anon, _ := m["anonymousId"].(string)
	if user == "" && anon == "" {
		return "", fmt.Errorf("%w: userId or anonymousId is required", ErrInvalidMessage)
	}
	if ev, _ := m["event"].(string); typ == "track" && ev == "" {
		return "", fmt.Errorf("%w: a track needs an event name", ErrInvalidMessage)
	}
	if id, _ := m["messageId"].(string); id == "" {
		m["messageId"] = newMessageID()
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if _, ok := m["receivedAt"]; !ok {
		m["receivedAt"] = now
	}
	if _, ok := m["timestamp"]; !ok {
		m["timestamp"] = now
	}
	if user != "" {
		return user, nil
	}
	return anon, nil
}

func newMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Track builds a track message.
func Track(userID, event string, properties map[string]any) map[string]any {
	return map[string]any{"type": "track", "userId": userID, "event": event, "properties": properties}
}

// Identify builds an identify message.
func Identify(userID string, traits map[string]any) map[string]any {
	return map[string]any{"type": "identify", "userId": userID, "traits": traits}
}
