-- Hands back the jobs whose lease expired. ARGV: prefix, max stalls, the code of a lost lease.
-- Answers id, requeued (1) or dead (0), per job.
local now = now_ms()
local max_stalls, code = tonumber(ARGV[2]), ARGV[3]
local out = {}
local requeued = false
local expired = redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', '(' .. ms(now), 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local key = job_key(id)
  redis.call('ZREM', ACTIVE, id)
  if redis.call('EXISTS', key) == 1 then
    local stalls = redis.call('HINCRBY', key, 'stc', 1)
    if stalls > max_stalls then
      local message = 'the worker running the job was lost (its lease expired) ' .. stalls .. ' times'
      redis.call('RPUSH', errors_key(id), error_json(redis.call('HGET', key, 'att'), now, code, message))
      redis.call('HSET', key, 'st', 'x', 'fin', ms(now))
      redis.call('ZADD', DEAD, now, id)
      out[#out + 1], out[#out + 2] = id, 0
    else
      -- Back to its place: the lost attempt is not counted against the job.
      redis.call('HINCRBY', key, 'att', -1)
      make_ready(key, id)
      requeued = true
      out[#out + 1], out[#out + 2] = id, 1
    end
  end
end
if requeued then
  wake()
end
return out
