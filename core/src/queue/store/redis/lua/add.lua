-- Adds jobs. ARGV: prefix, the call's nonce, then per job: id, name, data, priority, delay (ms),
-- options (JSON), keep (ms). Answers 1 (added) or 0 (the queue holds that id) per job.
local now = now_ms()
local nonce = ARGV[2]
local out = {}
local added = false
for i = 3, #ARGV, 7 do
  local id = ARGV[i]
  local key = job_key(id)
  if redis.call('EXISTS', key) == 1 then
    -- Any state counts. The same call repeated (its answer was lost) still added it.
    out[#out + 1] = (redis.call('HGET', key, 'an') == nonce) and 1 or 0
  else
    local prio, delay = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
    local seq = redis.call('INCR', SEQ)
    local run = now + delay
    redis.call('HSET', key, 'name', ARGV[i + 1], 'data', ARGV[i + 2], 'prio', prio, 'run', ms(run),
      'seq', seq, 'opts', ARGV[i + 5], 'keep', ARGV[i + 6], 'att', 0, 'stc', 0, 'ls', 0,
      'created', ms(now), 'an', nonce)
    if delay > 0 then
      redis.call('ZADD', DELAYED, run, id)
      redis.call('HSET', key, 'st', 'd')
    else
      redis.call('ZADD', READY, prio, ready_member(run, seq, id))
      redis.call('HSET', key, 'st', 'w')
    end
    added = true
    out[#out + 1] = 1
  end
end
-- A delayed job wakes a worker too: its claim answers when the job is due.
if added then
  wake()
end
return out
