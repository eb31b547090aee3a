-- Records outcomes. ARGV: prefix, the call's nonce, then per outcome: id, token, kind (c
-- completed, r retry, x dead, l released), result, error attempt, error code, error message,
-- retry delay (ms). Answers 1 (recorded) or 0 (the lease was lost) per outcome.
local now = now_ms()
local nonce = ARGV[2]
local out = {}
local woke, freed = false, false
for i = 3, #ARGV, 8 do
  local id, token, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'st', 'ls', 'fn', 'keep')
  if f[1] == 'a' and f[2] == token then
    redis.call('ZREM', ACTIVE, id)
    freed = true
    if kind == 'c' then
      local keep = tonumber(f[4]) or 0
      if keep <= 0 then
        redis.call('DEL', key, errors_key(id))
      else
        redis.call('HSET', key, 'st', 'c', 'res', ARGV[i + 3], 'fin', ms(now), 'fn', nonce)
        redis.call('ZADD', DONE, now + keep, id)
      end
    elseif kind == 'r' then
      local run = now + tonumber(ARGV[i + 7])
      redis.call('RPUSH', errors_key(id), error_json(ARGV[i + 4], now, ARGV[i + 5], ARGV[i + 6]))
      redis.call('HSET', key, 'st', 'd', 'run', ms(run), 'fn', nonce)
      redis.call('ZADD', DELAYED, run, id)
      woke = true
    elseif kind == 'x' then
      redis.call('RPUSH', errors_key(id), error_json(ARGV[i + 4], now, ARGV[i + 5], ARGV[i + 6]))
      redis.call('HSET', key, 'st', 'x', 'fin', ms(now), 'fn', nonce)
      redis.call('ZADD', DEAD, now, id)
    else
      -- Not run (the worker is closing): back to its place, the attempt not counted.
      redis.call('HINCRBY', key, 'att', -1)
      redis.call('HSET', key, 'fn', nonce)
      make_ready(key, id)
      woke = true
    end
    out[#out + 1] = 1
  elseif f[2] == token and f[3] == nonce then
    -- This call, repeated (its answer was lost): already recorded.
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
-- Completed jobs past their keep: a few per call, so no call pays for a large backlog.
local old = redis.call('ZRANGEBYSCORE', DONE, '-inf', now, 'LIMIT', 0, 256)
for _, id in ipairs(old) do
  redis.call('DEL', job_key(id), errors_key(id))
  redis.call('ZREM', DONE, id)
end
-- A slot of the queue-wide concurrency came free: a worker may take a job now.
if freed and not woke and redis.call('HEXISTS', META, 'conc') == 1 and redis.call('ZCARD', READY) > 0 then
  woke = true
end
if woke then
  wake()
end
return out
