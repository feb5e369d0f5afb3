package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/redisx"
)

// scriptMsg is the message as apply.lua reads it (ARGV[2]).
type scriptMsg struct {
	Mid   string         `json:"mid"`
	K     string         `json:"k"`   // "apply" or "delete"
	Ts    string         `json:"ts"`  // event time, ms since epoch
	Tsp   string         `json:"tsp"` // the same, zero-padded to 13 digits
	Ids   []string       `json:"ids"` // "type:value", highest priority first
	Lim   map[string]int `json:"lim"` // limits of the types in Ids
	Dl    int            `json:"dl"`  // limit of other types
	Tr    [][2]string    `json:"tr"`  // trait name, JSON value ("null" removes)
	Rp    int            `json:"rp"`  // 1: replace the traits (bulk RETAIN_IMPORTED, CSV mode replace)
	Ut    int            `json:"ut"`  // 1: union "tags" with the stored tags (CSV merge imports)
	Ev    string         `json:"ev"`  // timeline entry JSON ("" = none)
	En    string         `json:"en"`  // counter name ("" = none)
	Day   string         `json:"day"` // event day (UTC)
	Cut   string         `json:"cut"` // first day inside the counter lookback
	Cap   int            `json:"cap"` // timeline cap
	Np    string         `json:"np"`  // id of a profile this message creates
	Dp    string         `json:"dp"`  // delete: a profile id to delete
	TbTTL int            `json:"tbttl"`
	Ns    int            `json:"ns"` // 1: keep "1" as the dedup value, not the output (replay publishes nothing)
	// tenant derives Np when a path needs it (most messages create no
	// profile, and the hash costs about a microsecond)
	tenant string
}

// profileID is the id of a profile this message would create (Np),
// derived from the tenant and messageId the first time it is needed.
func (m *scriptMsg) profileID() string {
	if m.Np == "" && m.tenant != "" {
		m.Np = newProfileID(m.tenant, m.Mid)
	}
	return m.Np
}

// applyInput is one message of a batch.
type applyInput struct {
	Tenant string
	Msg    scriptMsg
	fast   *fastPlan // planned from the profile cache: fast.lua; nil: apply.lua
	// pending: identifiers the cache holds back until this message's reply
	pending []string
	// held writes (held.go): maybeSeen, the seen filter may have met the
	// messageId; flush, the profiles (cacheKey) written before this message
	maybeSeen bool
	flush     []string
	// inflight: the identifiers of the sent plan's profile, which no
	// message is held on until its reply (held.go)
	inflight []string
}

// Outcomes of apply.lua.
const (
	outOK      = "ok"      // applied
	outDeleted = "deleted" // a delete was applied
	outTomb    = "tomb"    // refused: predates a deletion of one of its identifiers
	outNoID    = "noid"    // refused: no usable identifier
)

// luaList decodes a Lua array that cjson may have encoded as {} when empty.
type luaList[T any] []T

func (l *luaList[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("{}")) || bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var v []T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = v
	return nil
}

// luaOut is the output apply.lua returns and stores for redelivery.
type luaOut struct {
	S  string            `json:"s"`
	P  string            `json:"p"`
	Cr int               `json:"cr"`
	Ab luaList[string]   `json:"ab"`
	Ch luaList[[]string] `json:"ch"` // name, old JSON, new JSON ("" = none)
	Tr luaList[[]string] `json:"tr"` // name, JSON
	// TrJ: the traits as one JSON object (planned outputs; Tr is then
	// empty): built once for the stored output and the records.
	TrJ json.RawMessage            `json:"trj,omitempty"`
	ID  luaList[string]            `json:"id"` // "type:value"
	C   string                     `json:"c"`
	Ls  string                     `json:"ls"`
	U   string                     `json:"u"`
	Tid string                     `json:"tid"`
	Del luaList[[]json.RawMessage] `json:"del"` // [pid, userId JSON, ["type:value"]]
}

// applyResult is what the store did with one message.
type applyResult struct {
	Dup       bool   // applied before: Out is the stored output
	Published bool   // applied and published before: nothing to do
	Out       luaOut // decoded output
	Err       error  // this message failed for good (bad data); others stand
	// Replanned: the message had a fast plan that did not hold; apply.lua's
	// full logic applied it instead (Out, Token, Metas are its).
	Replanned bool
	// Token and Metas: the profile's version token and trait metadata
	// after an apply.lua write (for the profile cache).
	Token  string
	Metas  []string
	Counts []string // event counters and "_td", flat
	// NotRun: an earlier message's plan did not hold and stopped the call:
	// this message did nothing (plan it again and resend it).
	NotRun bool
	// Bucket is the dedup bucket that marks the message.
	Bucket int64
	// Tombstones: what the call's reply said of the tenant's deletions
	// (tombstonesUnknown when the call did not say).
	Tombstones tombstoneState
}

// tombstoneState is what a script call said of its tenant's tombstones.
type tombstoneState uint8

const (
	tombstonesUnknown tombstoneState = iota
	tombstonesNone
	tombstonesSome
)

// callSize is the most messages one script call applies: enough to make
// the call's own cost (reading three dedup buckets, writing the marks)
// small per message, few enough that Redis is never busy with one call
// for long (a call of known users' tracks takes about a millisecond).
// 128 against 64: +3.8 % msgs/s on the mix (8 pairs), 256 no better.
const callSize = 128

// applyBatch applies messages in order: one pipeline of script calls, each
// call a run of one tenant's messages (batch.lua). A transport error fails
// the batch (the caller retries it; dedup makes the retry idempotent); a
// message that fails for good fails alone. With fallback every planned
// message carries its JSON, so that apply.lua can apply it if its plan
// does not hold; without, a plan that does not hold stops its tenant's
// messages there: they come back with NotRun set, for the caller to plan
// again and resend.
func (s *Store) applyBatch(ctx context.Context, in []applyInput, now time.Time, fallback bool) ([]applyResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	bucket, ttl := s.dedupBucket(now)
	halt := uuid.NewString()
	calls := planCalls(in)
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for c, call := range calls {
			t := in[call[0]].Tenant
			// the whole command, so that go-redis does not copy the
			// arguments into one of its own (EvalSha would)
			n := 10
			for _, i := range call {
				n += messageArgCount(&in[i])
			}
			args := make([]any, 0, n)
			args = append(args, "evalsha", applyScript.Hash(), 1, s.keyProfiles(t))
			args = s.appendCallHead(args, t, halt, bucket, ttl)
			for _, i := range call {
				args = appendMessageArgs(args, &in[i], fallback)
			}
			cmds[c] = pipe.Do(ctx, args...)
		}
		_, _ = pipe.Exec(ctx)
		if attempt == 0 && anyNoScript(cmds) {
			if err := applyScript.Load(ctx, s.rdb).Err(); err != nil {
				return nil, fmt.Errorf("identity: load apply script: %w", err)
			}
			continue
		}
		res := make([]applyResult, len(in))
		halted := map[string]bool{}
		for c, call := range calls {
			if err := decodeCall(cmds[c], call, in, res, bucket); err != nil {
				return nil, err
			}
			if res[call[len(call)-1]].NotRun {
				halted[in[call[0]].Tenant] = true
			}
		}
		// the halt marks served their pipeline (they expire anyway): one
		// DEL per tenant, as the keys of two tenants may live on two nodes
		if len(halted) > 0 {
			pipe := s.rdb.Pipeline()
			for t := range halted {
				pipe.Del(ctx, s.prefix(t)+"halt:"+halt)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, fmt.Errorf("identity: apply batch: %w", err)
			}
		}
		return res, nil
	}
}

// appendCallHead adds batch.lua's ARGV[1..6], before a call's messages:
// the tenant's key prefix, the halt token, the dedup bucket, its TTL, how
// many buckets remember a messageId, the timeline cap.
func (s *Store) appendCallHead(args []any, tenant, halt string, bucket, ttl int64) []any {
	return append(args, s.prefix(tenant), halt, bucket, ttl, dedupBuckets, s.cfg.TimelineCap)
}

// planCalls splits a batch into script calls: runs of one tenant's
// messages in batch order, at most callSize each (indexes into in).
func planCalls(in []applyInput) [][]int {
	return redisx.Runs(len(in), callSize, func(i int) string { return in[i].Tenant })
}

// appendMessageArgs adds one message to a call's arguments (batch.lua).
func appendMessageArgs(args []any, x *applyInput, fallback bool) []any {
	f := x.fast
	if f == nil {
		return append(args, "a", &x.Msg.Mid, scriptPayload(&x.Msg))
	}
	withMsg := fallback || f.fallback
	// pointers: an any holds them without allocating
	shape := b2i(f.simple) + b2i(f.lean)
	args = append(args, &planKinds[shape][b2i(withMsg)], 0)
	at := len(args)
	args = appendPlanArgs(args, f, &x.Msg)
	args[at-1] = len(args) - at // the plan's length
	if withMsg {
		args = append(args, scriptPayload(&x.Msg))
	}
	return args
}

// appendPlanArgs adds a plan's arguments (fast.lua's, in its order) for
// message m: pointers to the plan's and the message's strings (an any
// holds a pointer without allocating), counts as ints.
func appendPlanArgs(args []any, f *fastPlan, m *scriptMsg) []any {
	args = append(args, &m.Mid, &f.pid, &f.expected, &f.token, f.storedArg())
	if f.lean {
		// a lean plan: the message's time and identifiers only serve the
		// tombstone checks; the plan does not hold if the tenant has
		// tombstones after all
		args = append(args, &f.timeline)
	} else {
		args = append(args, &m.Ts, &f.timeline, len(m.Ids))
		args = appendStringArgs(args, m.Ids)
	}
	if f.simple {
		return appendSets(args, &f.ops)
	}
	args = append(args, len(f.newIDs))
	args = appendStringArgs(args, f.newIDs)
	args = append(args, &f.absPID, &f.absToken, len(f.absIDs))
	args = appendStringArgs(args, f.absIDs)
	args = append(args, f.ops.dels)
	for i := range f.ops.ops {
		if f.ops.ops[i].del {
			args = append(args, &f.ops.ops[i].field)
		}
	}
	return appendSets(args, &f.ops)
}

// storedArg is the plan's dedup value argument: the output, or "1".
func (f *fastPlan) storedArg() any {
	if f.stored != nil {
		return f.stored
	}
	return &storedNothing
}

// storedNothing is the dedup value of a message with nothing to
// republish (a variable: its pointer goes into an any without allocating).
var storedNothing = "1"

func appendStringArgs(args []any, l []string) []any {
	for i := range l {
		args = append(args, &l[i])
	}
	return args
}

// appendSets adds the field/value pairs of the profile hash's sets.
func appendSets(args []any, ops *fieldOps) []any {
	for i := range ops.ops {
		if o := &ops.ops[i]; !o.del {
			args = append(args, &o.field, &o.val)
		}
	}
	return args
}

// planKinds[shape][with its message] is a plan's kind in batch.lua; shape
// 0 a plan, 1 a simple plan, 2 a lean one.
var planKinds = [3][2]string{{"p", "P"}, {"q", "Q"}, {"s", "S"}}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// messageArgCount is at most how many arguments appendMessageArgs adds
// for x (to size a call's arguments: 16 fixed ones at most, each
// identifier one, each field write at most two).
func messageArgCount(x *applyInput) int {
	f := x.fast
	if f == nil {
		return 3
	}
	return 16 + len(x.Msg.Ids) + len(f.newIDs) + len(f.absIDs) + 2*len(f.ops.ops)
}

func anyNoScript(cmds []*redis.Cmd) bool {
	for _, c := range cmds {
		if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			return true
		}
	}
	return false
}

// transientPrefixes are the Redis errors that fail a batch (to be retried)
// instead of one message.
var transientPrefixes = []string{"NOSCRIPT", "LOADING", "BUSY", "TRYAGAIN", "MOVED", "ASK", "CLUSTERDOWN", "OOM", "READONLY", "MASTERDOWN", "NOREPLICAS"}

func transientError(msg string) bool {
	msg = strings.TrimPrefix(msg, "-")
	for _, p := range transientPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// decodeCall reads one call's reply {applied, replies, tbn} into res (a
// call that found its pipeline halted replies {0, {}}: tbn unknown); the
// messages after the applied ones are NotRun.
func decodeCall(cmd *redis.Cmd, call []int, in []applyInput, res []applyResult, bucket int64) error {
	v, err := cmd.Result()
	if err != nil {
		return fmt.Errorf("identity: apply batch: %w", err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 || len(arr) > 3 {
		return fmt.Errorf("%w: call reply %T", ErrScript, v)
	}
	applied, _ := arr[0].(int64)
	replies, _ := arr[1].([]any)
	tombs := tombstonesUnknown
	if len(arr) == 3 {
		tombs = tombstonesNone
		if n, _ := arr[2].(int64); n == 1 {
			tombs = tombstonesSome
		}
	}
	if int(applied) > len(call) || len(replies) < int(applied) {
		return fmt.Errorf("%w: %d of %d messages applied, %d replies", ErrScript, applied, len(call), len(replies))
	}
	for k, i := range call {
		r := &res[i]
		r.Tombstones = tombs
		if k >= int(applied) {
			r.NotRun = true
			continue
		}
		r.Bucket = bucket
		f := in[i].fast
		if code, ok := replies[k].(int64); ok && code == 0 && f != nil {
			r.Out = f.out // applied as planned
			continue
		}
		rep, _ := replies[k].([]any)
		if len(rep) == 2 {
			if code, _ := rep[0].(int64); code == -1 {
				msg, _ := rep[1].(string)
				if transientError(msg) {
					return fmt.Errorf("identity: apply batch: %s", msg)
				}
				r.Err = fmt.Errorf("%w: %s", ErrBadMessage, msg)
				continue
			}
		}
		if len(rep) == 3 {
			// applied before: the stored output, in the bucket that holds it
			r.Bucket, _ = rep[2].(int64)
			rep = rep[:2]
		}
		if err := decodeReply(rep, r); err != nil {
			r.Err = err
		}
		// a plan that did not hold: apply.lua's full logic applied it
		r.Replanned = f != nil && !r.Dup
	}
	return nil
}

// scriptPayload encodes a script message (apply.lua's m); it cannot fail: the
// message holds strings and integers only.
func scriptPayload(m *scriptMsg) []byte { return encodeScriptMsg(m) }

// decodeReply reads apply.lua's {dup, output[, token, {trait, meta, ...},
// {counter, count, ...}]}.
func decodeReply(v any, r *applyResult) error {
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return fmt.Errorf("%w: %T", ErrScript, v)
	}
	dup, _ := arr[0].(int64)
	out, _ := arr[1].(string)
	if len(arr) >= 4 {
		r.Token, _ = arr[2].(string)
		r.Metas = stringList(arr[3])
	}
	if len(arr) >= 5 {
		r.Counts = stringList(arr[4])
	}
	r.Dup = dup == 1
	if r.Dup && out == "1" {
		r.Published = true
		return nil
	}
	if err := decodeOut(out, &r.Out); err != nil {
		return fmt.Errorf("%w: output: %w", ErrScript, err)
	}
	return nil
}

// stringList reads a reply's array of strings.
func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// dedupMark names a message's dedup mark.
type dedupMark struct {
	tenant, mid string
	bucket      int64
}

// markPublished replaces the stored outputs of published messages by "1":
// a later redelivery publishes nothing, and the dedup buckets stay small.
// One HSET per dedup bucket and tenant.
func (s *Store) markPublished(ctx context.Context, done []dedupMark, now time.Time) error {
	if len(done) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	s.queueMarks(ctx, pipe, done, 0, now)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("identity: mark published: %w", err)
	}
	return nil
}

// dedupBuckets is how many dedup buckets (the current one and older ones)
// remember a messageId; each spans half of DedupTTL, so a messageId is
// remembered for at least DedupTTL and at most 3/2 of it. Every message is
// looked up in each of them, a lookup in a large hash that misses the
// CPU's caches: three buckets cost Redis about 7 % less CPU a message than
// five (spans of a quarter) and keep marks about 11 % longer on average
// (1.25 × DedupTTL against 1.125; docs/BENCHMARKS.md, "Eleventh session").
const dedupBuckets = 3

// dedupBucket is the bucket a message applied now is marked in and the
// TTL (s) that keeps it until no later bucket's check reads it.
func (s *Store) dedupBucket(now time.Time) (bucket, ttl int64) {
	span := int64(s.cfg.DedupTTL / (dedupBuckets - 1))
	bucket = now.UnixNano() / span
	return bucket, s.bucketTTL(bucket, now)
}

// bucketTTL is the TTL (s) that keeps dedup bucket until no later
// bucket's check reads it, at least a minute.
func (s *Store) bucketTTL(bucket int64, now time.Time) int64 {
	span := int64(s.cfg.DedupTTL / (dedupBuckets - 1))
	end := (bucket + dedupBuckets) * span
	return max((end-now.UnixNano())/int64(time.Second)+60, 60)
}
