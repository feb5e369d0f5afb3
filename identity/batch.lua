-- batch.lua: the last part of the identity script (after fast.lua and
-- apply.lua): applies a run of one tenant's messages in order, in one call.
--
-- KEYS[1] = <ns>:{<tenant>}:profiles (the tenant's hash slot)
-- ARGV[1] = key prefix "<ns>:{<tenant>}:"
-- ARGV[2] = halt token: a call that stops early sets "halt:<token>" and
--           every later call of the same pipeline with that token does
--           nothing, so no message overtakes one that was not applied
-- ARGV[3] = current dedup bucket number, ARGV[4] = its TTL (s),
-- ARGV[5] = how many buckets (this one and older) remember a messageId
-- ARGV[6] = the timeline cap of planned messages
-- then the messages, each one of
--   "a", messageId, message JSON            apply.lua's full logic
--   "p", L, plan arguments (L)              fast.lua's plan; stop if it fails
--   "P", L, plan arguments (L), message JSON  fast.lua's plan, else full logic
--   "q", "Q": as "p", "P" with a simple plan (fast.lua)
--   "s", "S": as "p", "P" with a lean plan (fast.lua's leanApply)
--
-- Dedup marks live in hashes dd:<bucket> (field messageId, value the
-- output until it is published, then "1"), one per DedupTTL/2 of time: a
-- few hash writes per call instead of a key with a TTL per message.
--
-- Returns {applied, replies, tbn}: tbn 1 when the tenant has tombstones
-- (deletions lately; the processor then sends no lean plans), applied
-- counts the messages processed from the start (the rest did nothing);
-- replies[j] is 0 (applied as planned: an integer, which Redis converts
-- without the field lookups a table costs),
-- {1, stored, bucket} (applied before), apply.lua's {0, output, token,
-- metas}, or {-1, error} (the message failed; the call stopped there).
local P, ZK = ARGV[1], KEYS[1]
local haltKey = nil
if ARGV[2] ~= "" then
  haltKey = P .. "halt:" .. ARGV[2]
  if redis.call("EXISTS", haltKey) == 1 then return {0, {}} end
end
local cur, nb, cap = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- where each message starts in ARGV, its messageId and its plan's length
-- (arrays: no table a message; the length parsed once: tonumber is strtod)
local starts, mids, lens, nm = {}, {}, {}, 0
local i = 7
local nargs = #ARGV
while i <= nargs do
  local kind = ARGV[i]
  nm = nm + 1
  starts[nm] = i
  if kind == "a" then
    mids[nm] = ARGV[i + 1]
    i = i + 3
  else
    mids[nm] = ARGV[i + 2]
    local l = tonumber(ARGV[i + 1])
    lens[nm] = l
    i = i + 2 + l
    if kind == "P" or kind == "Q" or kind == "S" then i = i + 1 end
  end
end
if nm == 0 then return {0, {}} end

-- messages applied before: newest bucket first. seen[mid] is {stored,
-- bucket} for a mark found, or the index of the message of this call that
-- applied it (its stored value in storedOf, the bucket cur).
local seen, storedOf = {}, {}
for b = cur, cur - nb + 1, -1 do
  local got = redis.call("HMGET", P .. "dd:" .. b, unpack(mids))
  for j = 1, nm do
    if got[j] and not seen[mids[j]] then seen[mids[j]] = {got[j], b} end
  end
end

local tbn = redis.call("EXISTS", P .. "tbn") == 1
local APPLIED = 0 -- the reply of every message applied as planned
-- handle applies the call's message j
local function handle(j)
  local i = starts[j]
  local kind = ARGV[i]
  local pay
  if kind == "a" then
    pay = ARGV[i + 2]
  else
    local l = lens[j]
    local at = i + 2
    local held
    if kind == "s" or kind == "S" then
      held = leanApply(P, at, at + l - 1, tbn, cap)
    else
      held = fastApply(P, ZK, at, at + l - 1, tbn, kind == "q" or kind == "Q", cap)
    end
    if held then return APPLIED, ARGV[at + 4] end
    if kind == "p" or kind == "q" or kind == "s" then return nil end
    pay = ARGV[at + l]
  end
  local r, stored = fullApply(P, ZK, cjson.decode(pay), kind ~= "a")
  tbn = redis.call("EXISTS", P .. "tbn") == 1
  return r, stored
end

local marks, replies, nmarks = {}, {}, 0
local function finish(applied, halt)
  if nmarks > 0 then
    local bk = P .. "dd:" .. cur
    redis.call("HSET", bk, unpack(marks))
    redis.call("EXPIRE", bk, ARGV[4])
  end
  if halt and haltKey then redis.call("SET", haltKey, "1", "EX", 60) end
  return {applied, replies, tbn and 1 or 0}
end

for j = 1, nm do
  local mid = mids[j]
  local s = seen[mid]
  if s then
    if type(s) == "number" then
      replies[j] = {1, storedOf[s], cur}
    else
      replies[j] = {1, s[1], s[2]}
    end
  else
    local ok, r, stored = pcall(handle, j)
    if not ok then
      if type(r) == "table" then r = r.err end
      replies[j] = {-1, tostring(r)}
      return finish(j, true)
    end
    if not r then return finish(j - 1, true) end
    replies[j] = r
    marks[nmarks + 1], marks[nmarks + 2] = mid, stored
    nmarks = nmarks + 2
    seen[mid], storedOf[j] = j, stored
  end
end
return finish(nm, false)
