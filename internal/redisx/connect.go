package redisx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// ErrNoURL is returned by Connect for an empty URL.
var ErrNoURL = errors.New("redisx: no Redis URL")

// Connect opens a client for a URL:
//
//	redis://[user:pass@]host:port[/db]          a standalone server
//	rediss://…                                  the same over TLS
//	redis+cluster://host1:port?addr=host2:port  a Redis Cluster (seed nodes)
//
// It pings the server before returning.
func Connect(ctx context.Context, url string) (redis.UniversalClient, error) {
	if url == "" {
		return nil, ErrNoURL
	}
	var cl redis.UniversalClient
	switch {
	case strings.HasPrefix(url, "redis+cluster://"), strings.HasPrefix(url, "rediss+cluster://"):
		u := strings.Replace(url, "+cluster", "", 1)
		opt, err := redis.ParseClusterURL(u)
		if err != nil {
			return nil, fmt.Errorf("redisx: %w", err)
		}
		cl = redis.NewClusterClient(opt)
	default:
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redisx: %w", err)
		}
		if opt.PoolSize == 0 {
			opt.PoolSize = 64
		}
		cl = redis.NewClient(opt)
	}
	if err := cl.Ping(ctx).Err(); err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("redisx: ping %s: %w", redactURL(url), err)
	}
	return cl, nil
}

// Embedded is an in-process Redis server. State lives in memory only.
type Embedded struct {
	srv *miniredis.Miniredis
}

// StartEmbedded starts miniredis on a free loopback port.
func StartEmbedded() (*Embedded, error) {
	srv, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("redisx: embedded server: %w", err)
	}
	return &Embedded{srv: srv}, nil
}

// URL is the redis:// URL of the embedded server.
func (e *Embedded) URL() string { return "redis://" + e.srv.Addr() }

// Addr is the host:port of the embedded server.
func (e *Embedded) Addr() string { return e.srv.Addr() }

// Close stops the server; its state is gone.
func (e *Embedded) Close() { e.srv.Close() }

// redactURL hides a password in a URL for logs and errors.
func redactURL(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	return u[:scheme+3] + "***" + u[at:]
}
