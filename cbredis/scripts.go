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
local base = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rk = base .. ':state'
local g, st, lvl, rem, bad = 0, 0, 0, 0, 0
local ty = redis.call('TYPE', rk)['ok']
if ty == 'hash' then
  local r = redis.call('HMGET', rk, 'v', 'g', 's', 'l', 'd')
  local rg, rl, rd = tonumber(r[2]), tonumber(r[4]), tonumber(r[5])
  if r[1] == '1' and rg and rg >= 0 and rl and rd and (r[3] == 'open' or r[3] == 'closed') then
    g, lvl = rg, rl
    if r[3] == 'open' then
      st, rem = 1, math.max(rd - now, 0)
    end
  else
    g, bad = -1, 1
  end
elseif ty ~= 'none' then
  g, bad = -1, 1
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
// left, then per non-empty bucket: number, s, f, ss, sf.
var syncScript = redis.NewScript(readRecord + `
local id = ARGV[1]
local width, nb = tonumber(ARGV[7]), tonumber(ARGV[8])
local written, others = -1, 0
local lease, pttl = 0, 0
local out = {}
if width > 0 and g >= 0 and st == 0 then
  local b = math.floor(now / width)
  local wk = base .. ':w:' .. g .. ':'
  local rep = base .. ':rep:' .. g
  local span = width * nb
  if ARGV[2] == tostring(g) then
    local key = wk .. b
    local kt = redis.call('TYPE', key)['ok']
    if kt == 'hash' or kt == 'none' then
      local fields = {'s', 'f', 'ss', 'sf'}
      local any = false
      for i = 1, 4 do
        local n = tonumber(ARGV[2 + i]) or 0
        if n > 0 then
          redis.call('HINCRBY', key, fields[i], n)
          any = true
        end
      end
      if any then
        redis.call('PEXPIRE', key, span + width)
      end
      written = b
      local worry = (tonumber(ARGV[4]) or 0) + (tonumber(ARGV[5]) or 0) + (tonumber(ARGV[6]) or 0)
      if worry > 0 then
        local zt = redis.call('TYPE', rep)['ok']
        if zt == 'zset' or zt == 'none' then
          redis.call('ZADD', rep, now, id)
          redis.call('ZREMRANGEBYSCORE', rep, '-inf', now - span)
          redis.call('PEXPIRE', rep, span + width)
        else
          bad = bad + 1
        end
      end
    else
      bad = bad + 1
    end
  end
  local c = redis.pcall('ZCOUNT', rep, now - span, '+inf')
  if type(c) == 'number' then
    others = c
    local mine = redis.pcall('ZSCORE', rep, id)
    if type(mine) == 'string' and tonumber(mine) and tonumber(mine) >= now - span then
      others = others - 1
    end
  else
    bad = bad + 1
  end
  for i = b - nb + 1, b do
    local v = redis.pcall('HMGET', wk .. i, 's', 'f', 'ss', 'sf')
    if type(v) == 'table' and v.err == nil then
      if v[1] or v[2] or v[3] or v[4] then
        local row = {i}
        local ok = true
        for k = 1, 4 do
          local n = 0
          if v[k] then
            n = tonumber(v[k])
            if n == nil or n < 0 then
              ok = false
              n = 0
            end
          end
          row[k + 1] = n
        end
        if ok then
          for k = 1, 5 do
            out[#out + 1] = row[k]
          end
        else
          bad = bad + 1
        end
      end
    else
      bad = bad + 1
    end
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
`)

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
var leaseScript = redis.NewScript(readRecord + `
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
  return {3, g, st, lvl, rem, bad, math.max(redis.call('PTTL', lk), 0)}
end
if lv then
  redis.call('DEL', lk)
  bad = bad + 1
end
redis.call('SET', lk, mine, 'PX', ARGV[3])
return {2, g, st, lvl, rem, bad}
`)

// announceScript writes a transition this replica made: the record
// moves from generation ARGV[2] to the next, in state ARGV[3] ('open' or
// 'closed') at level ARGV[4] with ARGV[5] ms of open time left, unless
// another replica moved it first. The lease of the ended episode goes,
// and the new generation is published on the breaker's channel.
//
// ARGV: id, expected generation, state, level, open time left ms, record
// ttl ms.
//
// Returns: 1 when written, else 0; then g, st, lvl, rem, bad as they now
// are.
var announceScript = redis.NewScript(readRecord + `
local want = tonumber(ARGV[2])
if g >= 0 and g ~= want then
  return {0, g, st, lvl, rem, bad}
end
local ng = math.max(g, want) + 1
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
`)

// scripts are every script, for loading them after a server lost its
// script cache.
var scripts = []*redis.Script{syncScript, leaseScript, announceScript}
