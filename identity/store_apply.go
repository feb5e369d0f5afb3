package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
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
	TTL   int            `json:"ttl"` // dedup TTL, seconds
	Np    string         `json:"np"`  // id of a profile this message creates
	Dp    string         `json:"dp"`  // delete: a profile id to delete
	TbTTL int            `json:"tbttl"`
	Ns    int            `json:"ns"` // 1: keep "1" as the dedup value, not the output (replay publishes nothing)
}

// applyInput is one message of a batch.
type applyInput struct {
	Tenant string
	Msg    scriptMsg
	fast   *fastPlan // planned from the profile cache: fast.lua; nil: apply.lua
	// pending: identifiers the cache holds back until this message's reply
	pending []string
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
	Token string
	Metas []string
}

// applyBatch runs apply.lua for every message in one pipeline, in order.
// A transport error fails the batch (the caller retries it; dedup makes the
// retry idempotent); a script error fails only its message.
func (s *Store) applyBatch(ctx context.Context, in []applyInput) ([]applyResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	payloads := make([][]byte, len(in))
	for i := range in {
		payloads[i] = scriptPayload(&in[i].Msg)
	}
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(in))
		for i := range in {
			t := in[i].Tenant
			if f := in[i].fast; f != nil {
				f.args[0], f.args[1] = s.prefix(t), payloads[i]
				cmds[i] = applyScript.EvalSha(ctx, pipe, []string{s.keyProfiles(t)}, f.args...)
			} else {
				cmds[i] = applyScript.EvalSha(ctx, pipe, []string{s.keyProfiles(t)}, s.prefix(t), payloads[i])
			}
		}
		_, _ = pipe.Exec(ctx)
		noScript := false
		for _, c := range cmds {
			if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
				noScript = true
				break
			}
		}
		if noScript && attempt == 0 {
			if err := applyScript.Load(ctx, s.rdb).Err(); err != nil {
				return nil, fmt.Errorf("identity: load apply script: %w", err)
			}
			continue
		}
		res := make([]applyResult, len(in))
		for i, c := range cmds {
			v, err := c.Result()
			if err != nil {
				var re redis.Error
				if errors.As(err, &re) && !redis.HasErrorPrefix(err, "NOSCRIPT") &&
					!redis.HasErrorPrefix(err, "LOADING") && !redis.HasErrorPrefix(err, "BUSY") &&
					!redis.HasErrorPrefix(err, "TRYAGAIN") && !redis.HasErrorPrefix(err, "MOVED") &&
					!redis.HasErrorPrefix(err, "ASK") && !redis.HasErrorPrefix(err, "CLUSTERDOWN") &&
					!redis.HasErrorPrefix(err, "OOM") && !redis.HasErrorPrefix(err, "READONLY") {
					res[i].Err = fmt.Errorf("%w: %w", ErrBadMessage, err)
					continue
				}
				return nil, fmt.Errorf("identity: apply batch: %w", err)
			}
			if f := in[i].fast; f != nil {
				err = decodeFastReply(v, f, &res[i])
			} else {
				err = decodeReply(v, &res[i])
			}
			if err != nil {
				res[i].Err = err
			}
		}
		return res, nil
	}
}

// scriptPayload encodes a script message (ARGV[2]); it cannot fail: the
// message holds strings and integers only.
func scriptPayload(m *scriptMsg) []byte { return encodeScriptMsg(m) }

// decodeReply reads apply.lua's {dup, output[, token, {trait, meta, ...}]}.
func decodeReply(v any, r *applyResult) error {
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return fmt.Errorf("%w: %T", ErrScript, v)
	}
	dup, _ := arr[0].(int64)
	out, _ := arr[1].(string)
	if len(arr) >= 4 {
		r.Token, _ = arr[2].(string)
		if l, ok := arr[3].([]any); ok {
			r.Metas = make([]string, 0, len(l))
			for _, x := range l {
				s, _ := x.(string)
				r.Metas = append(r.Metas, s)
			}
		}
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

// decodeFastReply reads the reply to a planned message: {0} applied as
// planned, else apply.lua's reply.
func decodeFastReply(v any, f *fastPlan, r *applyResult) error {
	if arr, ok := v.([]any); ok && len(arr) == 1 {
		if code, _ := arr[0].(int64); code == 0 {
			r.Out = f.out
			return nil
		}
	}
	r.Replanned = true
	return decodeReply(v, r)
}

// markPublished replaces the stored outputs of published messages by "1"
// (keeping their TTL): a later redelivery publishes nothing, and the dedup
// keys stay small.
func (s *Store) markPublished(ctx context.Context, done []applyInput) error {
	if len(done) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for i := range done {
		pipe.SetArgs(ctx, s.keyDedup(done[i].Tenant, done[i].Msg.Mid), "1", redis.SetArgs{Mode: "XX", KeepTTL: true})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("identity: mark published: %w", err)
	}
	return nil
}
