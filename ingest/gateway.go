package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/schemas"
)

// TraitValidator checks identify traits against the tenant's property
// schema (ingest/propschema implements it). It returns the traits to keep and
// one problem per value it dropped.
type TraitValidator interface {
	ValidateTraits(t *config.Tenant, traits map[string]any) (map[string]any, []Problem)
}

// Problem is a value dropped from a message by schema validation.
type Problem struct {
	Field   string // e.g. "traits.age"
	Code    string // e.g. "invalidDataType"
	Message string
}

// Deps are the gateway's dependencies.
type Deps struct {
	Tenants   *config.Tenants
	Publisher *Publisher
	Log       zerolog.Logger
	Metrics   *prometheus.Registry // may be nil
	Clock     func() time.Time     // nil means time.Now
	Traits    TraitValidator       // may be nil: no schema validation
}

// Gateway serves the tracking API.
type Gateway struct {
	cfg      Config
	deps     Deps
	m        *metrics
	inFlight chan struct{}
}

// New builds a gateway.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Tenants == nil || deps.Publisher == nil {
		return nil, errors.New("ingest: Tenants and Publisher are required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	return &Gateway{cfg: cfg, deps: deps, m: newMetrics(deps.Metrics), inFlight: make(chan struct{}, cfg.MaxInFlight)}, nil
}

// Routes registers the tracking API.
func (g *Gateway) Routes(mux *http.ServeMux) {
	for _, typ := range []string{"identify", "track", "page", "screen", "group", "alias"} {
		mux.Handle("POST /v1/"+typ, g.handler(typ, typ))
	}
	mux.Handle("POST /v1/batch", g.handler("batch", ""))
	mux.Handle("POST /v1/import", g.handler("import", ""))
}

// Run blocks until ctx ends; the gateway has no background work of its own
// (the HTTP server and the producer are owned by the caller).
func (g *Gateway) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// rejection is one entry of the response's "rejected" list.
type rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Code  string `json:"code,omitempty"`
}

type response struct {
	Success  bool        `json:"success"`
	Rejected []rejection `json:"rejected,omitempty"`
}

func (g *Gateway) handler(route, pathType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := g.serve(w, r, pathType)
		g.m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	})
}

func (g *Gateway) fail(w http.ResponseWriter, status int, code, msg, field string) int {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int((g.cfg.RetryAfter+time.Second-1)/time.Second)))
	}
	httpx.WriteError(w, status, code, msg, field)
	return status
}

// serve handles one request and returns the status code it answered.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, pathType string) int {
	select {
	case g.inFlight <- struct{}{}:
		defer func() { <-g.inFlight }()
	default:
		return g.fail(w, http.StatusTooManyRequests, "throttled", "too many requests in flight; retry later", "")
	}
	// Reject an unknown Basic-auth key before reading the body.
	var tenant *config.Tenant
	if user := httpx.BasicUser(r); user != "" {
		t, ok := g.deps.Tenants.ByWriteKey(user)
		if !ok {
			return g.fail(w, http.StatusUnauthorized, "unauthorized", "unknown write key", "")
		}
		tenant = t
	}
	receivedAt := g.deps.Clock().UTC()
	buf, err := readBody(w, r, g.cfg.MaxRequestBytes, g.cfg.maxWireBytes())
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return g.fail(w, http.StatusRequestEntityTooLarge, "too_large", "request body is larger than "+strconv.Itoa(g.cfg.MaxRequestBytes)+" bytes", "")
		}
		if errors.Is(err, ErrWireTooLarge) {
			return g.fail(w, http.StatusRequestEntityTooLarge, "too_large", "compressed request body is larger than "+strconv.Itoa(g.cfg.maxWireBytes())+" bytes", "")
		}
		if errors.Is(err, ErrBadEncoding) {
			return g.fail(w, http.StatusUnsupportedMediaType, "unsupported_encoding", err.Error(), "")
		}
		return g.fail(w, http.StatusBadRequest, "invalid_body", err.Error(), "")
	}
	defer putBuf(buf)
	if pathType != "" && buf.Len() > g.cfg.MaxMessageBytes {
		return g.fail(w, http.StatusRequestEntityTooLarge, "too_large", "a message must be at most "+strconv.Itoa(g.cfg.MaxMessageBytes)+" bytes", "")
	}
	req, err := decodeRequest(buf.Bytes(), pathType == "")
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return g.fail(w, http.StatusBadRequest, fe.Code, fe.Msg, fe.Field)
		}
		return g.fail(w, http.StatusBadRequest, "invalid_json", err.Error(), "")
	}
	if tenant == nil {
		t, ok := g.deps.Tenants.ByWriteKey(req.writeKey)
		if !ok {
			msg := "unknown write key"
			if req.writeKey == "" {
				msg = "a write key is required (HTTP Basic user name or \"writeKey\" in the body)"
			}
			return g.fail(w, http.StatusUnauthorized, "unauthorized", msg, "")
		}
		tenant = t
	}
	n, fe := newNormalizer(&g.cfg, req, receivedAt)
	if fe != nil {
		return g.fail(w, http.StatusBadRequest, fe.Code, fe.Msg, fe.Field)
	}
	recs, rejected := g.build(tenant, n, req, pathType)
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.ProduceTimeout)
	defer cancel()
	start := time.Now()
	if err := g.deps.Publisher.Produce(ctx, recs...); err != nil {
		g.deps.Log.Warn().Err(err).Str("tenant", tenant.ID).Int("records", len(recs)).Msg("produce failed; answering 503")
		return g.fail(w, http.StatusServiceUnavailable, "log_unavailable", "the event log did not acknowledge the messages; retry later", "")
	}
	g.m.produce.Observe(time.Since(start).Seconds())
	if pathType != "" && len(rejected) == 1 {
		rj := rejected[0]
		return g.fail(w, http.StatusBadRequest, rj.Code, rj.Error, rj.Field)
	}
	httpx.WriteJSON(w, http.StatusOK, response{Success: true, Rejected: rejected})
	return http.StatusOK
}

// build turns the request into records: accepted messages for the events
// topic and one dead letter per rejected message.
func (g *Gateway) build(tenant *config.Tenant, n *normalizer, req *request, pathType string) ([]*kgo.Record, []rejection) {
	var rejected []rejection
	count := len(req.messages)
	if req.single != nil {
		count = 1
	}
	recs := make([]*kgo.Record, 0, count)
	merged := 0 // bytes of the batch's context and integrations copied into messages
	for i := 0; i < count; i++ {
		var (
			m   fields
			raw json.RawMessage
			fe  *fieldError
		)
		if req.single != nil {
			m, raw = req.single, req.singleRaw
		} else {
			raw = req.messages[i]
			switch {
			case len(raw) > g.cfg.MaxMessageBytes:
				fe = reject("too_large", "", "message is larger than %d bytes", g.cfg.MaxMessageBytes)
			case !isObject(raw):
				fe = reject("invalid_type", "", "a message must be a JSON object")
			default:
				var err error
				if m, err = splitObject(raw); err != nil {
					fe = reject("invalid_json", "", "message is not valid JSON: %v", err)
				}
			}
		}
		var out *normalized
		if fe == nil {
			out, fe = n.normalize(&m, pathType)
		}
		if fe == nil {
			fe = g.checkOutputSize(n, out, &merged)
		}
		if fe == nil {
			var problems []Problem
			out, problems = g.checkTraits(tenant, out)
			for _, p := range problems {
				recs = append(recs, g.deadLetter(tenant, i, req.single == nil, out.msgID, p.Field, p.Code, p.Message, raw))
			}
			recs = append(recs, g.eventRecord(tenant, out))
			g.m.messages.WithLabelValues(tenant.ID, out.typ).Inc()
			continue
		}
		field := fe.Field
		if req.single == nil && field != "" {
			field = "batch[" + strconv.Itoa(i) + "]." + field
		}
		rejected = append(rejected, rejection{Index: i, Error: fe.Error(), Field: fe.Field, Code: fe.Code})
		recs = append(recs, g.deadLetter(tenant, i, req.single == nil, "", field, fe.Code, fe.Error(), raw))
		g.m.rejects.WithLabelValues(tenant.ID, fe.Code).Inc()
	}
	return recs, rejected
}

func (g *Gateway) eventRecord(tenant *config.Tenant, n *normalized) *kgo.Record {
	p := g.deps.Publisher
	return &kgo.Record{
		Topic: p.topics.Events,
		Key:   schemas.Key(tenant.ID, n.key),
		Value: n.value,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(tenant.ID)},
			{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaEvent)},
			{Key: schemas.HeaderSource, Value: []byte(p.source)},
			{Key: schemas.HeaderContentType, Value: []byte("application/json")},
		},
	}
}

func (g *Gateway) deadLetter(tenant *config.Tenant, index int, inBatch bool, msgID, field, code, reason string, raw json.RawMessage) *kgo.Record {
	d := schemas.DeadLetter{
		Tenant:    tenant.ID,
		Stage:     "ingest",
		Reason:    code + ": " + reason,
		Field:     field,
		MessageID: msgID,
		Original:  validJSONOrString(raw),
	}
	if inBatch {
		idx := index
		d.Index = &idx
	}
	rec, err := g.deps.Publisher.DeadLetterRecord(&d)
	if err != nil { // cannot happen for these types; keep the reason at least
		d.Original = nil
		rec, _ = g.deps.Publisher.DeadLetterRecord(&d)
	}
	return rec
}

func validJSONOrString(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	if json.Valid(raw) {
		return raw
	}
	b, _ := json.Marshal(string(raw))
	return b
}

// Output bounds: a batch-level context (and integrations) is merged into
// every message of the batch, so without them a 500 KiB request of small
// messages and a large batch context could write hundreds of megabytes to
// the log (and past the broker's largest batch).
// messageOverhead is what normalising adds to a message besides the
// batch's context and integrations (receivedAt, messageId, sentAt, …).
const messageOverhead = 1 << 10

// checkOutputSize refuses a message that the merge made larger than a
// message may be, or whose copy of the batch's context and integrations
// would take the copies past MaxRequestBytes in all; merged counts the
// bytes copied so far.
func (g *Gateway) checkOutputSize(n *normalizer, out *normalized, merged *int) *fieldError {
	shared := len(n.contextRaw) + len(n.integRaw)
	switch {
	case len(out.value) > g.cfg.MaxMessageBytes+messageOverhead:
		return reject("too_large", "", "message with the batch's context and integrations is larger than %d bytes", g.cfg.MaxMessageBytes)
	case shared > 0 && *merged+shared > g.cfg.MaxRequestBytes:
		return reject("too_large", "", "the batch's context and integrations, copied into each message, come to more than %d bytes", g.cfg.MaxRequestBytes)
	}
	*merged += shared
	return nil
}
