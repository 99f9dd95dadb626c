package cbredis

import "github.com/redis/go-redis/v9"

// The Lua scripts every round trip runs. Each touches the keys of one
// breaker only, all under one hash tag (KEYS[1] is the breaker's base key),
// so it runs on one Redis Cluster slot. Time is the Redis server's own
// (TIME): bucket numbers and deadlines never come from a replica's clock.
//
// A value that is not what these scripts write (another type at a key, a
// record with missing or unparsable fields) is ignored and counted in the
// result's bad field; the announce script replaces a bad record.

// readRecord is the prelude of every script: the state record as g (the
// fleet generation: 0 with no record, -1 when the record is bad), st,
// lvl and rem (the open time left, in milliseconds, by the server's
// clock), and now, the server's time in milliseconds.
const readRecord = `
-- whole is v as a whole number below 10^14, which Lua both holds
-- exactly and writes out in digits (as it builds keys and the lease's
-- value); nil for anything else.
local function whole(v)
  local n = tonumber(v)
  if n and n >= 0 and n < 100000000000000 and n == math.floor(n) then
    return n
  end
  return nil
end
local base = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rk = base .. ':state'
local g, st, lvl, rem, bad = 0, 0, 0, 0, 0
local r = redis.pcall('HMGET', rk, 'v', 'g', 's', 'l', 'd')
if type(r) ~= 'table' or r.err ~= nil then
  g, bad = -1, 1
elseif r[1] or r[2] or r[3] or r[4] or r[5] then
  local rg, rl, rd = whole(r[2]), whole(r[4]), whole(r[5])
  if r[1] == '1' and rg and rl and rd and (r[3] == 'open' or r[3] == 'closed') then
    g, lvl = rg, rl
    if r[3] == 'open' then
      st, rem = 1, math.max(rd - now, 0)
    end
  else
    g, bad = -1, 1
  end
end
`

// syncScript flushes one replica's outcome deltas into the bucket of the
// server's now, when the replica's epoch (the closed generation it counts
// in) is the record's, and reads back the fleet's window and the record.
//
// ARGV: id, epoch, successes, failures, slow successes, slow failures,
// bucket width ms (0: share no counts), buckets, lease ttl ms (renews the
// lease when this replica holds it; 0 does not).
//
// Returns: now, g, st, lvl, rem, bad, the bucket written (-1: none),
// other reporters, lease (0 none, 1 ours, 2 another's), the lease's time
// left, then per non-empty bucket of the window: number, s, f, ss, sf.
var syncScript = redis.NewScript(readRecord + syncLua)

const syncLua = `
local id = ARGV[1]
local width, nb = tonumber(ARGV[7]), tonumber(ARGV[8])
local written, others = -1, 0
local lease, pttl = 0, 0
local out = {}
if width > 0 and g >= 0 and st == 0 then
  local b = math.floor(now / width)
  local lo = b - nb + 1
  local wk = base .. ':w:' .. g
  local rep = base .. ':rep:' .. g
  local span = width * nb
  if tonumber(ARGV[2]) == g then
    local any = false
    for k = 1, 4 do
      local n = tonumber(ARGV[2 + k]) or 0
      if n > 0 then
        if type(redis.pcall('HINCRBY', wk, b * 4 + k - 1, n)) == 'number' then
          any = true
        else
          bad = bad + 1
        end
      end
    end
    if any then
      written = b
      -- Gone once its newest bucket has left every window.
      redis.call('PEXPIREAT', wk, (b + nb) * width)
    end
    if (tonumber(ARGV[4]) or 0) + (tonumber(ARGV[5]) or 0) + (tonumber(ARGV[6]) or 0) > 0 then
      if type(redis.pcall('ZADD', rep, now, id)) == 'number' then
        redis.call('ZREMRANGEBYSCORE', rep, '-inf', now - span)
        redis.call('PEXPIREAT', rep, now + span)
      else
        bad = bad + 1
      end
    end
  end
  local c = redis.pcall('ZCOUNT', rep, now - span, '+inf')
  if type(c) == 'number' then
    others = c
    local mine = nil
    if c > 0 then
      mine = tonumber(redis.call('ZSCORE', rep, id))
    end
    if mine and mine >= now - span then
      others = others - 1
    end
  else
    bad = bad + 1
  end
  -- One hash holds the window: field 4N+k holds kind k (0 to 3) of
  -- bucket N, so that a field's number says where it goes. Buckets that
  -- left the window, and fields that are not ours, go.
  local h = redis.pcall('HGETALL', wk)
  if type(h) == 'table' and h.err == nil then
    local sums, old = {}, {}
    for i = 1, 4 * nb do
      sums[i] = 0
    end
    local first = lo * 4
    for i = 1, #h, 2 do
      local f, n = tonumber(h[i]), tonumber(h[i + 1])
      if f == nil or n == nil or n < 0 or n > 9007199254740991 or f ~= math.floor(f) then
        bad = bad + 1
        old[#old + 1] = h[i]
      elseif f < first then
        old[#old + 1] = h[i]
      elseif f < first + 4 * nb then
        sums[f - first + 1] = n
      end
    end
    for i = 1, #old, 100 do
      redis.call('HDEL', wk, unpack(old, i, math.min(i + 99, #old)))
    end
    for i = 0, nb - 1 do
      local at = 4 * i
      if sums[at + 1] + sums[at + 2] + sums[at + 3] + sums[at + 4] > 0 then
        out[#out + 1] = lo + i
        for k = 1, 4 do
          out[#out + 1] = sums[at + k]
        end
      end
    end
  else
    bad = bad + 1
  end
end
if g >= 0 and st == 1 then
  local lk = base .. ':lease'
  local lv = redis.pcall('GET', lk)
  if type(lv) == 'string' then
    if lv == id .. ':' .. g then
      lease = 1
      local ttl = tonumber(ARGV[9]) or 0
      if ttl > 0 then
        redis.call('PEXPIRE', lk, ttl)
      end
    else
      lease = 2
    end
    pttl = math.max(redis.call('PTTL', lk), 0)
  end
end
local head = {now, g, st, lvl, rem, bad, written, others, lease, pttl}
for i = 1, #out do
  head[#head + 1] = out[i]
end
return head
`

// leaseScript asks for the probe lease of the open generation ARGV[2]
// once the record's open time is over: one replica at a time probes for
// the fleet, for the lease's time (ARGV[3] ms).
//
// ARGV: id, generation, ttl ms.
//
// Returns: an outcome, then g, st, lvl, rem, bad as read. The outcome is
// 0 when the record is not that open generation, 1 when its open time is
// not over (rem says for how long), 2 when the lease is this replica's,
// and 3 when another holds it (then the sixth element is its time left).
var leaseScript = redis.NewScript(readRecord + leaseLua)

const leaseLua = `
local want = tonumber(ARGV[2])
if g ~= want or st ~= 1 then
  return {0, g, st, lvl, rem, bad}
end
if rem > 0 then
  return {1, g, st, lvl, rem, bad}
end
local lk = base .. ':lease'
local mine = ARGV[1] .. ':' .. ARGV[2]
local lv = redis.pcall('GET', lk)
if lv == mine then
  redis.call('PEXPIRE', lk, ARGV[3])
  return {2, g, st, lvl, rem, bad}
end
if type(lv) == 'string' then
  -- Every lease expires: a string that never does is no replica's.
  local pttl = redis.call('PTTL', lk)
  if pttl >= 0 then
    return {3, g, st, lvl, rem, bad, pttl}
  end
end
if lv then
  redis.call('DEL', lk)
  bad = bad + 1
end
redis.call('SET', lk, mine, 'PX', ARGV[3])
return {2, g, st, lvl, rem, bad}
`

// announceScript writes a transition this replica made: the record
// moves from generation ARGV[2] to a new one, in state ARGV[3] ('open' or
// 'closed') at level ARGV[4] with ARGV[5] ms of open time left, unless
// another replica moved it first. The lease of the ended episode goes,
// and the new generation is published on the breaker's channel.
//
// The new generation is the next one; a record written where there was
// none (or a bad one) starts from the server's time in milliseconds, so
// that generations never come back after the record is lost (a server
// that restarted without its data): a replica that did not sync in
// between would take a new record of a generation it knows for the one it
// knows, and miss its transition.
//
// ARGV: id, expected generation, state, level, open time left ms, record
// ttl ms.
//
// Returns: 1 when written, else 0; then g, st, lvl, rem, bad as they now
// are.
var announceScript = redis.NewScript(readRecord + announceLua)

const announceLua = `
local want = tonumber(ARGV[2])
if g >= 0 and g ~= want then
  return {0, g, st, lvl, rem, bad}
end
local ng = math.max(g, want) + 1
if g <= 0 then
  ng = math.max(ng, now)
end
if bad > 0 then
  redis.call('DEL', rk)
end
local left = tonumber(ARGV[5])
redis.call('HSET', rk, 'v', '1', 'g', ng, 's', ARGV[3], 'l', ARGV[4], 'd', now + left, 'by', ARGV[1])
redis.call('PEXPIRE', rk, ARGV[6])
redis.call('DEL', base .. ':lease')
redis.call('PUBLISH', base .. ':events', ng)
st, rem = 0, 0
if ARGV[3] == 'open' then
  st, rem = 1, left
end
return {1, ng, st, tonumber(ARGV[4]), rem, bad}
`

// scripts are every script, for loading them after a server lost its
// script cache.
var scripts = []*redis.Script{syncScript, leaseScript, announceScript}
