-- Leases up to `max` ready jobs to a worker, within the queue's limits. ARGV: prefix, worker,
-- max, lease (ms), the call's nonce. Answers {flags (1 paused, 2 the queue has a concurrency or
-- rate limit), next due (ms from now, or -1), rate wait (ms, or -1)} followed by 7 fields per job: id, name, data, attempt, token, options, created.
local now = now_ms()
local worker, max, lease, nonce = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
-- What this call leased, kept for one lease: a repeated call answers the same jobs.
local handed = P .. ':cl:' .. nonce

local function next_due()
  local d = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
  if d[2] then
    return math.max(0, tonumber(d[2]) - now)
  end
  return -1
end

local function push_leased(out, id, token)
  local f = redis.call('HMGET', job_key(id), 'name', 'data', 'att', 'opts', 'created')
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = id, f[1], f[2], f[3]
  out[n + 5], out[n + 6], out[n + 7] = token, f[4], f[5]
end

local before = redis.call('LRANGE', handed, 0, -1)
if #before > 0 then
  local out = {0, next_due(), -1}
  for i = 1, #before, 2 do
    local id, token = before[i], before[i + 1]
    local f = redis.call('HMGET', job_key(id), 'st', 'ls')
    if f[1] == 'a' and f[2] == token then
      push_leased(out, id, token)
    end
  end
  return out
end

local meta = redis.call('HMGET', META, 'paused', 'conc', 'rmax', 'rwin')
if meta[1] == '1' then
  return {1, -1, -1}
end

-- Due delayed jobs (and retries past their backoff) become ready, placed by their due time.
local due = redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  redis.call('ZREM', DELAYED, id)
  make_ready(job_key(id), id)
end

local n = max
if meta[2] then
  n = math.min(n, tonumber(meta[2]) - redis.call('ZCARD', ACTIVE))
end
local rate_wait = -1
local rmax, rwin = tonumber(meta[3]), tonumber(meta[4])
if rmax then
  -- The sliding log: one entry per job started, kept for one window.
  redis.call('ZREMRANGEBYSCORE', RATE, '-inf', now - rwin)
  local left = rmax - redis.call('ZCARD', RATE)
  if left <= 0 then
    local oldest = redis.call('ZRANGE', RATE, 0, 0, 'WITHSCORES')
    rate_wait = rwin
    if oldest[2] then
      rate_wait = math.max(1, tonumber(oldest[2]) + rwin - now)
    end
  end
  n = math.min(n, left)
end

local out = {(meta[2] or rmax) and 2 or 0, -1, rate_wait}
local taken = 0
if n > 0 then
  local popped = redis.call('ZPOPMIN', READY, n)
  local record = {}
  for i = 1, #popped, 2 do
    local id = string.sub(popped[i], READY_ID_AT)
    local key = job_key(id)
    -- One read and one write per job (the counters are absent, so 0, until first set).
    local f = redis.call('HMGET', key, 'att', 'ls', 'name', 'data', 'opts', 'created')
    local attempt, token = (tonumber(f[1]) or 0) + 1, (tonumber(f[2]) or 0) + 1
    redis.call('HSET', key, 'st', 'a', 'worker', worker, 'att', attempt, 'ls', token)
    redis.call('ZADD', ACTIVE, now + lease, id)
    if rmax then
      redis.call('ZADD', RATE, now, id .. ':' .. token)
    end
    record[#record + 1], record[#record + 2] = id, token
    local o = #out
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = id, f[3], f[4], attempt
    out[o + 5], out[o + 6], out[o + 7] = token, f[5], f[6]
    taken = taken + 1
  end
  -- What this call handed out, in one write (unpack takes a few thousand at most).
  for i = 1, #record, 2000 do
    redis.call('RPUSH', handed, unpack(record, i, math.min(i + 1999, #record)))
  end
end
if taken > 0 then
  redis.call('PEXPIRE', handed, lease)
end
-- This worker is full and work is left: wake another (which wakes the next the same way). Not
-- when a queue limit stopped the claim: the worker woken would find nothing it may take.
if taken == max and redis.call('ZCARD', READY) > 0 then
  redis.call('ZADD', MARKER, 0, 'r')
end
out[2] = next_due()
return out
