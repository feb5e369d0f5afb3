-- apply.lua: the full logic of the identity script (after fast.lua,
-- before batch.lua): apply one events-topic message atomically:
-- tombstones, resolution (with limits), merge, traits (last write wins),
-- timeline, counters, output. batch.lua has checked dedup and writes the
-- dedup mark.
--
-- KEYS[1] = <ns>:{<tenant>}:profiles (declares the tenant's hash slot; every
--           other key this script touches starts with the same prefix, so
--           it lives in the same slot)
-- m       = the message (see scriptMsg in store_apply.go)
--
-- Profile hash p:<pid> fields: "t:<trait>" JSON value, "m:<trait>"
-- "<ms>|<messageId>" of the write that won, "i:<type>:<value>" identities,
-- "c:<event>|<YYYY-MM-DD>" daily event counts, "_td" day of their last
-- trim, "_c" created, "_s" last seen, "_u" updated (ms), "_v" version token.
--
-- fullApply returns the reply {0, output[, token, {trait, meta, ...},
-- {counter, count, ...}]} (an applied message adds the profile's new "_v"
-- version token, its trait metadata and its event counters, for the
-- processor's cache) and the dedup value: the output, or
-- "1" when nothing will be republished. replanned: a plan that did not
-- hold brought the message here.
local function fullApply(P, ZK, m, replanned)
local ts = tonumber(m.ts)
local out = {}
local chg, chgOrder = {}, {}

local function finish()
  local enc = cjson.encode(out)
  if m.ns == 1 then
    -- replay: nothing will be republished from this key
    return {0, enc}, "1"
  end
  return {0, enc}, enc
end

local function idkey(s) return P .. "id:" .. s end
local function typeof(s) return string.match(s, "^([^:]*)") end

-- bytesAfter: a sorts after b byte by byte, as Go compares strings (Lua's
-- > follows the server's collation locale, which Redis sets from the
-- environment)
local function bytesAfter(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end

-- meta is "<ms>|<messageId>"; is a newer than b (b may be false/nil)?
-- Ties of time go to the greater messageId in byte order (speculate.go's
-- newerMeta).
local function newer(a, b)
  if not b then return true end
  if not a then return false end
  local ia, ib = string.find(a, "|", 1, true), string.find(b, "|", 1, true)
  local ta, tb = tonumber(string.sub(a, 1, ia - 1)), tonumber(string.sub(b, 1, ib - 1))
  if ta ~= tb then return ta > tb end
  return bytesAfter(string.sub(a, ia + 1), string.sub(b, ib + 1))
end

-- tagUnion returns the stored list a (decoded) with the elements of b it
-- lacks appended, encoded, or nil when b adds nothing (the stored value
-- stays as it is: re-encoding it would differ in form, "\/" for "/", and
-- report a change that is none).
local function tagUnion(a, b)
  local union, seen = {}, {}
  for _, x in ipairs(a) do if not seen[x] then seen[x] = true; union[#union + 1] = x end end
  local added = false
  for _, x in ipairs(b) do
    if not seen[x] then seen[x] = true; union[#union + 1] = x; added = true end
  end
  if not added then return nil end
  -- (cjson writes "/" as "\/"; encoding/json does not)
  return (string.gsub(cjson.encode(union), "\\/", "/"))
end

local function change(k, old, new)
  local c = chg[k]
  if not c then
    chg[k] = {old or "", new or ""}
    chgOrder[#chgOrder + 1] = k
  else
    c[2] = new or ""
  end
end

-- hgetall reads a hash into a table
local function hgetall(key)
  local flat = redis.call("HGETALL", key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local function live(pid)
  for _ = 1, 32 do
    if redis.call("EXISTS", P .. "p:" .. pid) == 1 then return pid end
    local nxt = redis.call("GET", P .. "al:" .. pid)
    if not nxt then return nil end
    pid = nxt
  end
  return nil
end

---------------------------------------------------------------- delete
if m.k == "delete" then
  local targets, seen = {}, {}
  for _, s in ipairs(m.ids) do
    local p = redis.call("GET", idkey(s))
    if p and not seen[p] then seen[p] = true; targets[#targets + 1] = p end
  end
  if m.dp and m.dp ~= "" then
    local p = live(m.dp)
    if p and not seen[p] then seen[p] = true; targets[#targets + 1] = p end
  end
  local tombs, torder = {}, {}
  for _, s in ipairs(m.ids) do
    if not tombs[s] then tombs[s] = true; torder[#torder + 1] = s end
  end
  local del = {}
  for _, p in ipairs(targets) do
    local h = hgetall(P .. "p:" .. p)
    local ids = {}
    for f in pairs(h) do
      if string.sub(f, 1, 2) == "i:" then
        local s = string.sub(f, 3)
        ids[#ids + 1] = s
        redis.call("DEL", idkey(s))
        if not tombs[s] then tombs[s] = true; torder[#torder + 1] = s end
      end
    end
    for _, e in ipairs(redis.call("LRANGE", P .. "mg:" .. p, 0, -1)) do
      local d = cjson.decode(e)
      for _, a in ipairs(d.absorbed) do
        redis.call("DEL", P .. "al:" .. a)
        redis.call("SET", P .. "tbp:" .. a, m.ts, "EX", m.tbttl)
      end
    end
    redis.call("DEL", P .. "p:" .. p, P .. "tl:" .. p, P .. "mg:" .. p)
    redis.call("ZREM", ZK, p)
    redis.call("SET", P .. "tbp:" .. p, m.ts, "EX", m.tbttl)
    del[#del + 1] = {p, h["t:userId"] or "", ids}
  end
  for _, s in ipairs(torder) do
    local k = P .. "tb:" .. s
    local cur = redis.call("GET", k)
    if (not cur) or tonumber(cur) < ts then redis.call("SET", k, m.ts, "EX", m.tbttl) end
  end
  if #torder > 0 then redis.call("SET", P .. "tbn", "1", "EX", m.tbttl) end
  out.s = "deleted"
  out.del = del
  return finish()
end

---------------------------------------------------------------- lookups
-- one MGET reads the tombstone flag and every identifier
local ids = m.ids
local keys = {P .. "tbn"}
for i, s in ipairs(ids) do keys[i + 1] = idkey(s) end
local got = redis.call("MGET", unpack(keys))
if got[1] then
  for _, s in ipairs(ids) do
    local t = redis.call("GET", P .. "tb:" .. s)
    if t and tonumber(t) >= ts then
      out.s = "tomb"
      out.tid = s
      return finish()
    end
  end
end
if #ids == 0 then
  out.s = "noid"
  return finish()
end
local owner = {}
for i, s in ipairs(ids) do
  if got[i + 1] then owner[s] = got[i + 1] end
end

---------------------------------------------------------------- resolution
local function limit(t) return m.lim[t] or m.dl end
local idsOf = {} -- pid -> identities (from the hash), read on demand
local function identsOf(p)
  local l = idsOf[p]
  if not l then
    l = {}
    for _, f in ipairs(redis.call("HKEYS", P .. "p:" .. p)) do
      if string.sub(f, 1, 2) == "i:" then l[#l + 1] = string.sub(f, 3) end
    end
    idsOf[p] = l
  end
  return l
end
local pids
while true do
  pids = {}
  local seen, unknown = {}, 0
  for _, s in ipairs(ids) do
    local p = owner[s]
    if p then
      if not seen[p] then seen[p] = true; pids[#pids + 1] = p end
    else
      unknown = unknown + 1
    end
  end
  if #ids <= 1 or #pids == 0 or (#pids == 1 and unknown == 0) then break end
  local counts, have = {}, {}
  for _, p in ipairs(pids) do
    for _, s in ipairs(identsOf(p)) do
      if not have[s] then have[s] = true; local t = typeof(s); counts[t] = (counts[t] or 0) + 1 end
    end
  end
  for _, s in ipairs(ids) do
    if not have[s] then have[s] = true; local t = typeof(s); counts[t] = (counts[t] or 0) + 1 end
  end
  local ok = true
  for t, n in pairs(counts) do
    if n > limit(t) then ok = false; break end
  end
  if ok then break end
  -- drop the message's lowest-priority identifier and resolve again
  table.remove(ids)
end

---------------------------------------------------------------- merge
local function mergeInto(a, s)
  local ak, sk = P .. "p:" .. a, P .. "p:" .. s
  local av = hgetall(ak)
  local sv = hgetall(sk)
  local sets, dels = {}, {}
  for f, v in pairs(av) do
    local pre = string.sub(f, 1, 2)
    if pre == "i:" then
      redis.call("SET", idkey(string.sub(f, 3)), s)
      sets[#sets + 1] = f
      sets[#sets + 1] = "1"
    elseif pre == "c:" then
      -- event counters add up (the survivor keeps its own "_td")
      sets[#sets + 1] = f
      sets[#sets + 1] = tostring(tonumber(v) + tonumber(sv[f] or "0"))
    elseif pre == "m:" then
      local k = string.sub(f, 3)
      local tf = "t:" .. k
      local val, cm, cv = av[tf], sv[f], sv[tf]
      if k == "tags" and val and cv then
        local enc = tagUnion(cjson.decode(cv), cjson.decode(val))
        if enc then
          sets[#sets + 1] = tf
          sets[#sets + 1] = enc
          change(k, cv, enc)
        end
        if newer(v, cm) then sets[#sets + 1] = f; sets[#sets + 1] = v end
      elseif newer(v, cm) then
        sets[#sets + 1] = f
        sets[#sets + 1] = v
        if val then
          if cv ~= val then sets[#sets + 1] = tf; sets[#sets + 1] = val; change(k, cv, val) end
        elseif cv then
          dels[#dels + 1] = tf
          change(k, cv, nil)
        end
      end
    end
  end
  local function pick(x, y, useMin)
    if not x then return y end
    if not y then return x end
    if (tonumber(x) < tonumber(y)) == useMin then return x end
    return y
  end
  sets[#sets + 1] = "_c"; sets[#sets + 1] = pick(sv["_c"], av["_c"], true)
  sets[#sets + 1] = "_s"; sets[#sets + 1] = pick(sv["_s"], av["_s"], false)
  sets[#sets + 1] = "_u"; sets[#sets + 1] = pick(sv["_u"], av["_u"], false)
  redis.call("HSET", sk, unpack(sets))
  if #dels > 0 then redis.call("HDEL", sk, unpack(dels)) end
  -- timeline, counters, lineage, alias, keys (fast.lua)
  absorbRest(P, a, s, m.cap, ZK, sv["_oo"] == nil)
end

local pid, created, absorbed = nil, 0, {}
if #pids == 0 then
  pid = m.np
  local n = 0
  while redis.call("EXISTS", P .. "p:" .. pid, P .. "al:" .. pid, P .. "tbp:" .. pid) > 0 do
    n = n + 1
    pid = m.np .. "x" .. n
  end
  redis.call("ZADD", ZK, m.ts, pid)
  created = 1
elseif #pids == 1 then
  pid = pids[1]
else
  local best, bc
  for _, p in ipairs(pids) do
    local c = tonumber(redis.call("HGET", P .. "p:" .. p, "_c") or "0")
    if best == nil or c < bc or (c == bc and p < best) then best, bc = p, c end
  end
  pid = best
  for _, p in ipairs(pids) do
    if p ~= pid then absorbed[#absorbed + 1] = p end
  end
  table.sort(absorbed)
  for _, p in ipairs(absorbed) do mergeInto(p, pid) end
  redis.call("LPUSH", P .. "mg:" .. pid,
    cjson.encode({survivor = pid, absorbed = absorbed, at = m.ts, messageId = m.mid}))
end
local pk = P .. "p:" .. pid
local cur = {}
if created == 0 then cur = hgetall(pk) end
local sets, dels = {}, {}
local function put(f, v)
  sets[#sets + 1] = f
  sets[#sets + 1] = v
  cur[f] = v
end

---------------------------------------------------------------- identities
local newIds = 0
for _, s in ipairs(ids) do
  if not owner[s] then
    redis.call("SET", idkey(s), pid)
    put("i:" .. s, "1")
    newIds = newIds + 1
  end
end

---------------------------------------------------------------- traits
local meta = m.ts .. "|" .. m.mid
for _, kv in ipairs(m.tr) do
  local k, v = kv[1], kv[2]
  local tf = "t:" .. k
  local old = cur[tf]
  local unioned = false
  if k == "tags" and m.ut == 1 and old and v ~= "null" then
    -- CSV merge imports add their tags to the profile's instead of
    -- replacing them, so every import stays a segment of its users.
    local okO, ol = pcall(cjson.decode, old)
    local okN, nl = pcall(cjson.decode, v)
    if okO and okN and type(ol) == "table" and type(nl) == "table" then
      local enc = tagUnion(ol, nl)
      if newer(meta, cur["m:" .. k]) then put("m:" .. k, meta) end
      if enc then put(tf, enc); change(k, old, enc) end
      unioned = true
    end
  end
  if unioned then
    -- done above
  elseif newer(meta, cur["m:" .. k]) then
    put("m:" .. k, meta)
    if v == "null" then
      if old then dels[#dels + 1] = tf; cur[tf] = nil; change(k, old, nil) end
    elseif old ~= v then
      put(tf, v)
      change(k, old, v)
    end
  end
end
if m.rp == 1 then
  -- replace: traits the message does not carry are removed (if older)
  local given = {}
  for _, kv in ipairs(m.tr) do given[kv[1]] = true end
  local metas = {}
  for f, fm in pairs(cur) do
    if string.sub(f, 1, 2) == "m:" then metas[#metas + 1] = {string.sub(f, 3), fm} end
  end
  for _, km in ipairs(metas) do
    local k = km[1]
    if not given[k] and k ~= "userId" and newer(meta, km[2]) then
      put("m:" .. k, meta)
      local old = cur["t:" .. k]
      if old then dels[#dels + 1] = "t:" .. k; cur["t:" .. k] = nil; change(k, old, nil) end
    end
  end
end

---------------------------------------------------------------- times
-- an entry no newer than the newest message before it may land above a
-- newer one: the timeline is then out of order (fast.lua's mergeTimelines)
if m.ev ~= "" and cur["_s"] and cur["_oo"] == nil and ts <= tonumber(cur["_s"]) then put("_oo", "1") end
if (not cur["_c"]) or ts < tonumber(cur["_c"]) then put("_c", m.ts) end
if (not cur["_s"]) or ts > tonumber(cur["_s"]) then put("_s", m.ts) end
if (not cur["_u"]) or ((#chgOrder > 0 or newIds > 0 or #absorbed > 0) and ts > tonumber(cur["_u"])) then
  put("_u", m.ts)
end
-- the event's daily counter "c:<name>|<day>"; a new day field is when
-- days before the lookback ("_td": day of the last trim) are dropped
if m.en ~= "" and m.day >= m.cut then
  local cf = "c:" .. m.en .. "|" .. m.day
  local n = tonumber(cur[cf] or "0") + 1
  put(cf, tostring(n))
  if n == 1 and cur["_td"] ~= m.cut then
    put("_td", m.cut)
    for f in pairs(cur) do
      if string.sub(f, 1, 2) == "c:" and string.sub(f, -10) < m.cut then
        dels[#dels + 1] = f
        cur[f] = nil
      end
    end
  end
end
-- the version token that fast.lua checks (see profile_cache.go). When a
-- plan that did not hold brought us here, the token differs from the
-- planned one: the processor's later plans, built on what this message was
-- expected to do, must not match.
local tsalt = ""
if replanned then tsalt = "|replanned" end
local tok = string.sub(redis.sha1hex((cur["_v"] or "") .. "|" .. m.mid .. tsalt), 1, 16)
put("_v", tok)
if #sets > 0 then redis.call("HSET", pk, unpack(sets)) end
if #dels > 0 then redis.call("HDEL", pk, unpack(dels)) end

---------------------------------------------------------------- events
if m.ev ~= "" then pushTimeline(P .. "tl:" .. pid, m.tsp .. m.ev, m.cap) end

---------------------------------------------------------------- output
out.s = "ok"
out.p = pid
out.cr = created
out.ab = absorbed
local ch = {}
for _, k in ipairs(chgOrder) do ch[#ch + 1] = {k, chg[k][1], chg[k][2]} end
out.ch = ch
local tr, idl = {}, {}
for f, v in pairs(cur) do
  local pre = string.sub(f, 1, 2)
  if pre == "t:" then tr[#tr + 1] = {string.sub(f, 3), v}
  elseif pre == "i:" then idl[#idl + 1] = string.sub(f, 3)
  end
end
out.tr = tr
out.id = idl
out.c = cur["_c"]
out.ls = cur["_s"]
out.u = cur["_u"]
local r, stored = finish()
-- for the processor's profile cache: the token and the trait metadata
local mt = {}
for f, v in pairs(cur) do
  if string.sub(f, 1, 2) == "m:" then mt[#mt + 1] = string.sub(f, 3); mt[#mt + 1] = v end
end
-- and the event counters with the day of their last trim
local cn = {}
for f, v in pairs(cur) do
  if f == "_td" or string.sub(f, 1, 2) == "c:" then cn[#cn + 1] = f; cn[#cn + 1] = v end
end
r[3] = tok
r[4] = mt
r[5] = cn
return r, stored
end
