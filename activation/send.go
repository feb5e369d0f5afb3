package activation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

// callResult is the classified result of one webhook call.
type callResult struct {
	status     int
	err        error         // transport error or non-2xx description
	retryable  bool          // network error, timeout, 408, 429, 5xx
	retryAfter time.Duration // from the Retry-After header, 0 if none
}

func (r callResult) ok() bool { return r.err == nil }

// newHTTPClient returns the webhook client. Unless allowPrivate, every
// connection's resolved address is checked at dial time (DNS rebinding).
// Redirects are not followed (a 3xx is a permanent failure) and no proxy is
// used, so that the address check cannot be bypassed.
func newHTTPClient(timeout time.Duration, allowPrivate bool, maxConns int) *http.Client {
	d := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// call POSTs one signed body.
func call(ctx context.Context, cl *http.Client, d *Destination, deliveryID string, body []byte, now time.Time) callResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return callResult{err: fmt.Errorf("build request: %w", err)}
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "User360-Webhooks/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderDeliveryID, deliveryID)
	if d.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(d.Secret, ts, body))
	}
	resp, err := cl.Do(req)
	if err != nil {
		if errors.Is(err, ErrPrivateAddress) {
			return callResult{err: err}
		}
		return callResult{err: err, retryable: true}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	r := callResult{status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return r
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		r.retryable = true
		r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	r.err = fmt.Errorf("receiver answered %d", resp.StatusCode)
	return r
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the delay before retry number attempts (1-based): base·2^(n-1)
// capped at max, with jitter in [d/2, d].
func backoff(base, max time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
