-- fast.lua: the prelude of apply.lua (the two files form one script). When
-- the processor planned the message from its profile cache (speculate.go),
-- ARGV[3..] carry the plan: this part checks that Redis still holds the
-- state the plan was built on and, if so, only writes. Otherwise it writes
-- nothing and apply.lua's full logic runs, in the same call: a plan that
-- does not hold costs no retry and never reorders messages.
--
-- ARGV[1]  key prefix "<ns>:{<tenant>}:", ARGV[2] message JSON (apply.lua)
-- ARGV[3]  messageId
-- ARGV[4]  profile id
-- ARGV[5]  expected "_v" token of the profile ("" = the message creates it)
-- ARGV[6]  the token this write sets
-- ARGV[7]  dedup TTL (s)
-- ARGV[8]  dedup value (the output, or "1" when nothing is republished)
-- ARGV[9]  event time (ms), for tombstones
-- ARGV[10] timeline entry ("" = none), ARGV[11] timeline cap
-- ARGV[12] counter field "<name>|<day>" ("" = none), ARGV[13] first day kept
-- ARGV[14] n: the message's identifiers follow
-- then k: identifiers new to the profile follow
-- then the profile the message merges into this one ("" = none), its
--   expected token, and a: its identifiers follow
-- then d: profile fields to delete follow
-- then field/value pairs to set on the profile (merge included)
--
-- Returns {0} when applied as planned, {1, stored} when applied before.
-- absorbRest finishes merging profile a into s outside their hashes:
-- timelines merged by time and re-capped, counters summed, lineage moved,
-- a's alias set, its keys deleted, its zset member removed. apply.lua's
-- mergeInto and fastApply both end a merge with it.
local function absorbRest(P, a, s, cap, zkey)
  local tla, tls = P .. "tl:" .. a, P .. "tl:" .. s
  local la = redis.call("LRANGE", tla, 0, -1)
  if #la > 0 then
    local ls = redis.call("LRANGE", tls, 0, -1)
    for _, x in ipairs(la) do ls[#ls + 1] = x end
    table.sort(ls, function(x, y) return x > y end)
    redis.call("DEL", tls)
    local keep = {}
    for i = 1, math.min(#ls, cap) do keep[i] = ls[i] end
    redis.call("RPUSH", tls, unpack(keep))
  end
  local ea = redis.call("HGETALL", P .. "ec:" .. a)
  for i = 1, #ea, 2 do
    if ea[i] ~= "_td" then redis.call("HINCRBY", P .. "ec:" .. s, ea[i], ea[i + 1]) end
  end
  for _, x in ipairs(redis.call("LRANGE", P .. "mg:" .. a, 0, -1)) do
    redis.call("RPUSH", P .. "mg:" .. s, x)
  end
  redis.call("SET", P .. "al:" .. a, s)
  redis.call("DEL", P .. "p:" .. a, tla, P .. "ec:" .. a, P .. "mg:" .. a)
  redis.call("ZREM", zkey, a)
end

local function fastApply()
  local P = ARGV[1]
  local dk = P .. "dd:" .. ARGV[3]
  local pid = ARGV[4]
  local pk = P .. "p:" .. pid
  local got = redis.call("MGET", dk, P .. "tbn")
  if got[1] then return {1, got[1]} end
  local want = ARGV[5]
  if want == "" then
    if redis.call("EXISTS", pk, P .. "al:" .. pid, P .. "tbp:" .. pid) > 0 then return nil end
  elseif redis.call("HGET", pk, "_v") ~= want then
    return nil
  end
  local i = 14
  local n = tonumber(ARGV[i])
  if got[2] then
    -- a deletion happened lately: the full logic decides about tombstones
    local ts = tonumber(ARGV[9])
    for j = i + 1, i + n do
      local t = redis.call("GET", P .. "tb:" .. ARGV[j])
      if t and tonumber(t) >= ts then return nil end
    end
  end
  i = i + n + 1
  local k = tonumber(ARGV[i])
  for j = i + 1, i + k do
    if redis.call("EXISTS", P .. "id:" .. ARGV[j]) == 1 then return nil end
  end
  local newAt = i
  i = i + k + 1
  local ab, na = ARGV[i], tonumber(ARGV[i + 2])
  if ab ~= "" and redis.call("HGET", P .. "p:" .. ab, "_v") ~= ARGV[i + 1] then return nil end
  local abAt = i + 2
  -- every check holds: write
  for j = newAt + 1, newAt + k do redis.call("SET", P .. "id:" .. ARGV[j], pid) end
  if want == "" then redis.call("ZADD", KEYS[1], 0, pid) end
  if ab ~= "" then
    -- the rest of apply.lua's mergeInto (the hash fields come with the sets)
    for j = abAt + 1, abAt + na do redis.call("SET", P .. "id:" .. ARGV[j], pid) end
    absorbRest(P, ab, pid, tonumber(ARGV[11]), KEYS[1])
    redis.call("LPUSH", P .. "mg:" .. pid,
      cjson.encode({survivor = pid, absorbed = {ab}, at = ARGV[9], messageId = ARGV[3]}))
  end
  i = abAt + na + 1
  local d = tonumber(ARGV[i])
  if d > 0 then redis.call("HDEL", pk, unpack(ARGV, i + 1, i + d)) end
  i = i + d + 1
  redis.call("HSET", pk, "_v", ARGV[6], unpack(ARGV, i, #ARGV))
  if ARGV[10] ~= "" then
    local tk = P .. "tl:" .. pid
    local cap = tonumber(ARGV[11])
    if redis.call("LPUSH", tk, ARGV[10]) > cap then redis.call("LTRIM", tk, 0, cap - 1) end
  end
  if ARGV[12] ~= "" then
    local ek = P .. "ec:" .. pid
    local cut = ARGV[13]
    if redis.call("HINCRBY", ek, ARGV[12], 1) == 1 and redis.call("HGET", ek, "_td") ~= cut then
      redis.call("HSET", ek, "_td", cut)
      for _, f in ipairs(redis.call("HKEYS", ek)) do
        if f ~= "_td" and string.sub(f, -10) < cut then redis.call("HDEL", ek, f) end
      end
    end
  end
  redis.call("SET", dk, ARGV[8], "EX", ARGV[7])
  return {0}
end
if #ARGV > 2 then
  local r = fastApply()
  if r then return r end
end
