package config

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// File is the YAML configuration file (--config).
type File struct {
	Kafka struct {
		Brokers     []string `yaml:"brokers"`
		TopicPrefix string   `yaml:"topicPrefix"`
		Partitions  int32    `yaml:"partitions"`
	} `yaml:"kafka"`
	Redis struct {
		URL string `yaml:"url"`
	} `yaml:"redis"`
	HTTP struct {
		Addr string `yaml:"addr"`
	} `yaml:"http"`
	Tenants []Tenant `yaml:"tenants"`
}

// ParseFile decodes a configuration file; unknown fields are an error so that
// a typo does not pass silently.
func ParseFile(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &f, nil
}

// LoadFile reads and decodes a configuration file.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseFile(b)
}
