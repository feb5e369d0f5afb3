-- apply.lua: apply one events-topic message to the identity store
-- atomically: dedup, tombstones, resolution (with limits), merge, traits
-- (last write wins), timeline, counters, output.
--
-- KEYS[1] = <ns>:{<tenant>}:profiles (declares the tenant's hash slot; every
--           other key this script touches starts with the same prefix and
--           so lives in the same slot)
-- ARGV[1] = key prefix "<ns>:{<tenant>}:"
-- ARGV[2] = message JSON (see scriptMsg in store_apply.go)
--
-- Returns {dup, output}: dup = 1 when the message was applied before (the
-- output is then the stored one, or "1" once it was published).
local P = ARGV[1]
local ZK = KEYS[1]
local m = cjson.decode(ARGV[2])
local dk = P .. "dd:" .. m.mid
local done = redis.call("GET", dk)
if done then return {1, done} end

local ts = tonumber(m.ts)
local out = {}
local chg, chgOrder = {}, {}

local function finish()
  local enc = cjson.encode(out)
  redis.call("SET", dk, enc, "EX", m.ttl)
  return {0, enc}
end

local function idkey(s) return P .. "id:" .. s end
local function typeof(s) return string.match(s, "^([^:]*)") end

-- meta is "<ms>|<messageId>"; is a newer than b (b may be false)?
local function newer(a, b)
  if not b then return true end
  if not a then return false end
  local ia, ib = string.find(a, "|", 1, true), string.find(b, "|", 1, true)
  local ta, tb = tonumber(string.sub(a, 1, ia - 1)), tonumber(string.sub(b, 1, ib - 1))
  if ta ~= tb then return ta > tb end
  return string.sub(a, ia + 1) > string.sub(b, ib + 1)
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
    local ids = redis.call("SMEMBERS", P .. "pi:" .. p)
    for _, s in ipairs(ids) do
      redis.call("DEL", idkey(s))
      if not tombs[s] then tombs[s] = true; torder[#torder + 1] = s end
    end
    for _, e in ipairs(redis.call("LRANGE", P .. "mg:" .. p, 0, -1)) do
      local d = cjson.decode(e)
      for _, a in ipairs(d.absorbed) do
        redis.call("DEL", P .. "al:" .. a)
        redis.call("SET", P .. "tbp:" .. a, m.ts, "EX", m.tbttl)
      end
    end
    local uid = redis.call("HGET", P .. "p:" .. p, "t:userId") or ""
    redis.call("DEL", P .. "p:" .. p, P .. "pi:" .. p, P .. "tl:" .. p, P .. "ec:" .. p, P .. "mg:" .. p)
    redis.call("ZREM", ZK, p)
    redis.call("SET", P .. "tbp:" .. p, m.ts, "EX", m.tbttl)
    del[#del + 1] = {p, uid, ids}
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

---------------------------------------------------------------- tombstones
if redis.call("EXISTS", P .. "tbn") == 1 then
  for _, s in ipairs(m.ids) do
    local t = redis.call("GET", P .. "tb:" .. s)
    if t and tonumber(t) >= ts then
      out.s = "tomb"
      out.tid = s
      return finish()
    end
  end
end

if #m.ids == 0 then
  out.s = "noid"
  return finish()
end

---------------------------------------------------------------- resolution
local function limit(t) return m.lim[t] or m.dl end
local ids = m.ids
local owner, pids
while true do
  owner, pids = {}, {}
  local seen, unknown = {}, 0
  for _, s in ipairs(ids) do
    local p = redis.call("GET", idkey(s))
    if p then
      owner[s] = p
      if not seen[p] then seen[p] = true; pids[#pids + 1] = p end
    else
      unknown = unknown + 1
    end
  end
  if #ids <= 1 or #pids == 0 or (#pids == 1 and unknown == 0) then break end
  local counts, have = {}, {}
  for _, p in ipairs(pids) do
    for _, s in ipairs(redis.call("SMEMBERS", P .. "pi:" .. p)) do
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
  for _, x in ipairs(redis.call("SMEMBERS", P .. "pi:" .. a)) do
    redis.call("SET", idkey(x), s)
    redis.call("SADD", P .. "pi:" .. s, x)
  end
  local ha = redis.call("HGETALL", ak)
  local av = {}
  for i = 1, #ha, 2 do av[ha[i]] = ha[i + 1] end
  for f, meta in pairs(av) do
    if string.sub(f, 1, 2) == "m:" then
      local k = string.sub(f, 3)
      local tf = "t:" .. k
      local cur = redis.call("HMGET", sk, f, tf)
      local val = av[tf]
      if k == "tags" and val and cur[2] then
        local union, seen = {}, {}
        for _, x in ipairs(cjson.decode(cur[2])) do if not seen[x] then seen[x] = true; union[#union + 1] = x end end
        for _, x in ipairs(cjson.decode(val)) do if not seen[x] then seen[x] = true; union[#union + 1] = x end end
        local enc = cjson.encode(union)
        if #union > 0 and enc ~= cur[2] then
          redis.call("HSET", sk, tf, enc)
          change(k, cur[2], enc)
        end
        if newer(meta, cur[1]) then redis.call("HSET", sk, f, meta) end
      elseif newer(meta, cur[1]) then
        redis.call("HSET", sk, f, meta)
        if val then
          if cur[2] ~= val then redis.call("HSET", sk, tf, val); change(k, cur[2], val) end
        elseif cur[2] then
          redis.call("HDEL", sk, tf)
          change(k, cur[2], nil)
        end
      end
    end
  end
  local sm = redis.call("HMGET", sk, "_c", "_s", "_u")
  local function pick(x, y, useMin)
    if not x then return y end
    if not y then return x end
    if useMin then
      if tonumber(x) < tonumber(y) then return x end
      return y
    end
    if tonumber(x) > tonumber(y) then return x end
    return y
  end
  redis.call("HSET", sk, "_c", pick(sm[1], av["_c"], true), "_s", pick(sm[2], av["_s"], false), "_u", pick(sm[3], av["_u"], false))
  local tla, tls = P .. "tl:" .. a, P .. "tl:" .. s
  local la = redis.call("LRANGE", tla, 0, -1)
  if #la > 0 then
    local ls = redis.call("LRANGE", tls, 0, -1)
    for _, x in ipairs(la) do ls[#ls + 1] = x end
    table.sort(ls, function(x, y) return x > y end)
    redis.call("DEL", tls)
    local keep = {}
    for i = 1, math.min(#ls, m.cap) do keep[i] = ls[i] end
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
  redis.call("DEL", ak, P .. "pi:" .. a, tla, P .. "ec:" .. a, P .. "mg:" .. a)
  redis.call("ZREM", ZK, a)
end

local pid, created, absorbed = nil, 0, {}
if #pids == 0 then
  pid = m.np
  local n = 0
  while redis.call("EXISTS", P .. "p:" .. pid) == 1 or redis.call("EXISTS", P .. "al:" .. pid) == 1
        or redis.call("EXISTS", P .. "tbp:" .. pid) == 1 do
    n = n + 1
    pid = m.np .. "x" .. n
  end
  redis.call("HSET", P .. "p:" .. pid, "_c", m.ts, "_s", m.ts, "_u", m.ts)
  redis.call("ZADD", ZK, 0, pid)
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

---------------------------------------------------------------- identities
local newIds = 0
for _, s in ipairs(ids) do
  if not owner[s] then
    redis.call("SET", idkey(s), pid)
    redis.call("SADD", P .. "pi:" .. pid, s)
    newIds = newIds + 1
  end
end

---------------------------------------------------------------- traits
local meta = m.ts .. "|" .. m.mid
local nt = #m.tr
if nt > 0 then
  local fields = {}
  for i, kv in ipairs(m.tr) do
    fields[2 * i - 1] = "m:" .. kv[1]
    fields[2 * i] = "t:" .. kv[1]
  end
  local cur = redis.call("HMGET", pk, unpack(fields))
  local sets, dels = {}, {}
  for i, kv in ipairs(m.tr) do
    local k, v = kv[1], kv[2]
    local cm, old = cur[2 * i - 1], cur[2 * i]
    if newer(meta, cm) then
      sets[#sets + 1] = "m:" .. k
      sets[#sets + 1] = meta
      if v == "null" then
        if old then dels[#dels + 1] = "t:" .. k; change(k, old, nil) end
      elseif old ~= v then
        sets[#sets + 1] = "t:" .. k
        sets[#sets + 1] = v
        change(k, old, v)
      end
    end
  end
  if #sets > 0 then redis.call("HSET", pk, unpack(sets)) end
  if #dels > 0 then redis.call("HDEL", pk, unpack(dels)) end
end
if m.rp == 1 then
  -- replace: traits the message does not carry are removed (if older)
  local given = {}
  for _, kv in ipairs(m.tr) do given[kv[1]] = true end
  local all = redis.call("HGETALL", pk)
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == "m:" then
      local k = string.sub(f, 3)
      if not given[k] and k ~= "userId" and newer(meta, all[i + 1]) then
        local old = redis.call("HGET", pk, "t:" .. k)
        redis.call("HSET", pk, f, meta)
        if old then redis.call("HDEL", pk, "t:" .. k); change(k, old, nil) end
      end
    end
  end
end

---------------------------------------------------------------- times
local tm = redis.call("HMGET", pk, "_c", "_s", "_u")
local upd = {}
if (not tm[1]) or ts < tonumber(tm[1]) then upd[#upd + 1] = "_c"; upd[#upd + 1] = m.ts end
if (not tm[2]) or ts > tonumber(tm[2]) then upd[#upd + 1] = "_s"; upd[#upd + 1] = m.ts end
if (#chgOrder > 0 or newIds > 0 or #absorbed > 0) and ((not tm[3]) or ts > tonumber(tm[3])) then
  upd[#upd + 1] = "_u"; upd[#upd + 1] = m.ts
end
if #upd > 0 then redis.call("HSET", pk, unpack(upd)) end

---------------------------------------------------------------- events
if m.ev ~= "" then
  local tk = P .. "tl:" .. pid
  redis.call("LPUSH", tk, m.tsp .. m.ev)
  redis.call("LTRIM", tk, 0, m.cap - 1)
end
if m.en ~= "" and m.day >= m.cut then
  local ek = P .. "ec:" .. pid
  redis.call("HINCRBY", ek, m.en .. "|" .. m.day, 1)
  if redis.call("HGET", ek, "_td") ~= m.cut then
    redis.call("HSET", ek, "_td", m.cut)
    for _, f in ipairs(redis.call("HKEYS", ek)) do
      if f ~= "_td" and string.sub(f, -10) < m.cut then redis.call("HDEL", ek, f) end
    end
  end
end

---------------------------------------------------------------- output
out.s = "ok"
out.p = pid
out.cr = created
out.ab = absorbed
local ch = {}
for _, k in ipairs(chgOrder) do ch[#ch + 1] = {k, chg[k][1], chg[k][2]} end
out.ch = ch
local all = redis.call("HGETALL", pk)
local tr, tmeta = {}, {}
for i = 1, #all, 2 do
  local f = all[i]
  local pre = string.sub(f, 1, 2)
  if pre == "t:" then
    tr[#tr + 1] = {string.sub(f, 3), all[i + 1]}
  elseif f == "_c" then out.c = all[i + 1]
  elseif f == "_s" then out.ls = all[i + 1]
  elseif f == "_u" then out.u = all[i + 1]
  end
end
out.tr = tr
out.id = redis.call("SMEMBERS", P .. "pi:" .. pid)
return finish()
