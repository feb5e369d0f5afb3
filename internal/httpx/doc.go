// Package httpx is the HTTP plumbing shared by every role: JSON responses and
// errors, tenant authentication (write keys for the tracking API, API keys for
// everything else), path cleaning, and a server with graceful shutdown.
package httpx
