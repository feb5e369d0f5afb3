-- fast.lua: the first part of the identity script (fast.lua, apply.lua,
-- batch.lua form one script; batch.lua drives it). When the processor
-- planned a message from its profile cache (speculate.go), its plan
-- arguments carry the writes: fastApply checks that Redis still holds the
-- state the plan was built on and, if so, only writes. Otherwise it writes
-- nothing and returns false; batch.lua then runs apply.lua's full logic on
-- the message (when the plan came with the message) or stops the call.
--
-- Plan arguments, from ARGV[i] on:
--   i     messageId
--   i+1   profile id
--   i+2   expected "_v" token of the profile ("" = the message creates it)
--   i+3   the token this write sets
--   i+4   dedup value (the output, or "1" when nothing is republished)
--   i+5   event time (ms), for tombstones
--   i+6   timeline entry ("" = none)
--   i+7   n: the message's identifiers follow
--   then k: identifiers new to the profile follow
--   then the profile the message merges into this one ("" = none), its
--     expected token, and a: its identifiers follow
--   then d: profile fields to delete follow
--   then field/value pairs to set on the profile (merge and event counter
--     included: the processor knows the counts), up to ARGV[last]
-- A simple plan (an existing profile, no new identifier, no merge, nothing
-- to delete: most messages of known people) leaves out k, the merge's
-- three and d: every argument costs Redis about 0.1 µs to read and hand to
-- Lua. A lean plan (leanApply) leaves out the tombstone checks' arguments
-- too, for tenants without tombstones. The timeline cap, the same for
-- every message, comes once a call (batch.lua's ARGV[6]).
-- Globals used per message, as locals of the whole script (fast.lua,
-- apply.lua, batch.lua): reading a global is a table lookup every time.
local ARGV, redis, tonumber, unpack, cjson = ARGV, redis, tonumber, unpack, cjson

-- newestFirst: list l is in order, newest first (entries start with
-- their time; a late arrival pushed on top breaks the order)
local function newestFirst(l)
  for i = 2, #l do
    if l[i - 1] < l[i] then return false end
  end
  return true
end

-- insertInOrder puts the entries of small (newest first, at least one)
-- into the list at key (newest first), each before the first entry older
-- than it (LINSERT: the first of its value in the list, as all before it,
-- inserted or not, are newer), the oldest at the end, and returns the
-- list's length. It reads the list only as far as the inserts need
-- (LRANGE in growing chunks, down to an entry older than small's
-- oldest): a long timeline is not read whole.
local function insertInOrder(key, small)
  local big, nb, step, oldest, ended = {}, 0, 16, small[#small], false
  while not ended and (nb == 0 or big[nb] >= oldest) do
    local chunk = redis.call("LRANGE", key, nb, nb + step - 1)
    for _, x in ipairs(chunk) do
      nb = nb + 1
      big[nb] = x
    end
    ended = #chunk < step
    step = step * 2
  end
  local j, len = 1, 0
  for k = 1, #small do
    local x = small[k]
    while j <= nb and big[j] >= x do j = j + 1 end
    if j > nb then
      -- (the whole list was read: the rest are older than all of it)
      return redis.call("RPUSH", key, unpack(small, k))
    end
    len = redis.call("LINSERT", key, "BEFORE", big[j], x)
  end
  return len
end

-- mergeTimelines puts the entries of profile a's timeline into profile
-- s's: the two interleaved newest first by entry (its 13-digit time
-- first), at most cap kept. A timeline is in order unless its profile has
-- "_oo" (set when an entry was pushed that was not newer than every
-- message before it: the processor's plans, apply.lua); sOrdered: s's
-- has none (a's is read only where needed). When one timeline holds a few entries (an anonymous visitor's, mostly; read and
-- checked) and the other is in order, the few go in place into the other
-- (renamed to s's if it is a's), which is read only down to where they
-- go: a long timeline is not read whole. Otherwise both are read, sorted
-- together and written anew. Either way the result is the same, and in
-- order (s's "_oo" cleared).
local function mergeTimelines(P, a, s, cap, sOrdered)
  local tla, tls = P .. "tl:" .. a, P .. "tl:" .. s
  local la = redis.call("LRANGE", tla, 0, 8)
  if #la == 0 then return end
  -- (a few entries out of order without "_oo": a timeline written before
  -- the mark existed; sorted below)
  if sOrdered and #la <= 8 and newestFirst(la) then
    if insertInOrder(tls, la) > cap then redis.call("LTRIM", tls, 0, cap - 1) end
    return
  end
  local ls = redis.call("LRANGE", tls, 0, 8)
  if #ls <= 8 and newestFirst(ls) and redis.call("HEXISTS", P .. "p:" .. a, "_oo") == 0 then
    if #ls > 0 then insertInOrder(tla, ls) end
    redis.call("RENAME", tla, tls)
    redis.call("LTRIM", tls, 0, cap - 1)
  else
    if #la > 8 then la = redis.call("LRANGE", tla, 0, -1) end
    if #ls > 8 then ls = redis.call("LRANGE", tls, 0, -1) end
    for _, x in ipairs(la) do ls[#ls + 1] = x end
    -- newest first: sorted ascending by the built-in order (no Lua
    -- comparator to call per comparison), taken from the end
    table.sort(ls)
    redis.call("DEL", tls)
    local keep = {}
    for i = 1, math.min(#ls, cap) do keep[i] = ls[#ls + 1 - i] end
    redis.call("RPUSH", tls, unpack(keep))
  end
  if not sOrdered then redis.call("HDEL", P .. "p:" .. s, "_oo") end
end

-- absorbRest finishes merging profile a into s outside their hashes:
-- timelines merged by time and re-capped, lineage moved,
-- a's alias set, its keys deleted, its zset member removed. apply.lua's
-- mergeInto and fastApply both end a merge with it. sOrdered: s's
-- timeline is not marked out of order ("_oo", read with its token).
local function absorbRest(P, a, s, cap, zkey, sOrdered)
  local tla = P .. "tl:" .. a
  mergeTimelines(P, a, s, cap, sOrdered)
  for _, x in ipairs(redis.call("LRANGE", P .. "mg:" .. a, 0, -1)) do
    redis.call("RPUSH", P .. "mg:" .. s, x)
  end
  redis.call("SET", P .. "al:" .. a, s)
  redis.call("DEL", P .. "p:" .. a, tla, P .. "mg:" .. a)
  redis.call("ZREM", zkey, a)
end

-- trimAt is the timeline length at which LPUSH trims back to the cap:
-- trimming on every push would cost a command per event, so a timeline
-- holds up to an eighth more than its cap and readers read the first cap.
local function trimAt(cap) return cap + math.floor(cap / 8) end

-- pushTimeline adds an entry to a profile's timeline.
local function pushTimeline(tk, entry, cap)
  if redis.call("LPUSH", tk, entry) > trimAt(cap) then redis.call("LTRIM", tk, 0, cap - 1) end
end

-- leanApply writes a lean plan (ARGV[i..last]: messageId, profile id,
-- expected token, new token, dedup value, timeline entry, then
-- field/value pairs): a simple plan without the message's time and
-- identifiers, which only the tombstone checks read, so it does not hold
-- when the tenant has tombstones (tbn). cap: the timeline cap.
local function leanApply(P, i, last, tbn, cap)
  if tbn then return false end
  local pid = ARGV[i + 1]
  local pk = P .. "p:" .. pid
  if redis.call("HGET", pk, "_v") ~= ARGV[i + 2] then return false end
  -- the write of fastApply's simple plan, at the lean plan's offsets (a
  -- shared function measured 0.5 % more Redis instructions: kept inline)
  redis.call("HSET", pk, "_v", ARGV[i + 3], unpack(ARGV, i + 6, last))
  if ARGV[i + 5] ~= "" then pushTimeline(P .. "tl:" .. pid, ARGV[i + 5], cap) end
  return true
end

-- fastApply writes a planned message (plan arguments ARGV[i..last]) if
-- the profiles are as planned and returns true, else writes nothing and
-- returns false. tbn: a deletion happened lately in the tenant; simple:
-- the plan is a simple one; cap: the timeline cap.
local function fastApply(P, ZK, i, last, tbn, simple, cap)
  local pid = ARGV[i + 1]
  local pk = P .. "p:" .. pid
  local want = ARGV[i + 2]
  local ordered = true -- (its timeline: no "_oo"; read with the token when a merge may need it)
  if want == "" then
    if redis.call("EXISTS", pk, P .. "al:" .. pid, P .. "tbp:" .. pid) > 0 then return false end
  elseif simple then
    if redis.call("HGET", pk, "_v") ~= want then return false end
  else
    local v = redis.call("HMGET", pk, "_v", "_oo")
    if v[1] ~= want then return false end
    ordered = not v[2]
  end
  local base = i
  i = i + 7
  local n = tonumber(ARGV[i])
  if tbn then
    -- the full logic decides about tombstones
    local ts = tonumber(ARGV[base + 5])
    for j = i + 1, i + n do
      local t = redis.call("GET", P .. "tb:" .. ARGV[j])
      if t and tonumber(t) >= ts then return false end
    end
  end
  i = i + n + 1
  if simple then
    redis.call("HSET", pk, "_v", ARGV[base + 3], unpack(ARGV, i, last))
    if ARGV[base + 6] ~= "" then pushTimeline(P .. "tl:" .. pid, ARGV[base + 6], cap) end
    return true
  end
  local k = tonumber(ARGV[i])
  for j = i + 1, i + k do
    if redis.call("EXISTS", P .. "id:" .. ARGV[j]) == 1 then return false end
  end
  local newAt = i
  i = i + k + 1
  local ab, na = ARGV[i], tonumber(ARGV[i + 2])
  if ab ~= "" and redis.call("HGET", P .. "p:" .. ab, "_v") ~= ARGV[i + 1] then return false end
  local abAt = i + 2
  -- every check holds: write
  for j = newAt + 1, newAt + k do redis.call("SET", P .. "id:" .. ARGV[j], pid) end
  if want == "" then redis.call("ZADD", ZK, ARGV[base + 5], pid) end
  if ab ~= "" then
    -- the rest of apply.lua's mergeInto (the hash fields come with the sets)
    for j = abAt + 1, abAt + na do redis.call("SET", P .. "id:" .. ARGV[j], pid) end
    absorbRest(P, ab, pid, cap, ZK, ordered)
    redis.call("LPUSH", P .. "mg:" .. pid,
      cjson.encode({survivor = pid, absorbed = {ab}, at = ARGV[base + 5], messageId = ARGV[base]}))
  end
  i = abAt + na + 1
  local d = tonumber(ARGV[i])
  if d > 0 then redis.call("HDEL", pk, unpack(ARGV, i + 1, i + d)) end
  i = i + d + 1
  redis.call("HSET", pk, "_v", ARGV[base + 3], unpack(ARGV, i, last))
  if ARGV[base + 6] ~= "" then pushTimeline(P .. "tl:" .. pid, ARGV[base + 6], cap) end
  return true
end
