-- A job as a reader sees it: id, name, data, state, attempts, progress, result, options, priority,
-- created, finished, then its errors (an array); false when there is none. A delayed job past its
-- time reads as waiting.
local function info(id, now)
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'name', 'data', 'st', 'att', 'prog', 'res', 'opts', 'prio',
    'created', 'fin', 'run')
  if not f[3] then
    return false
  end
  local st = f[3]
  if st == 'd' and tonumber(f[11]) <= now then
    st = 'w'
  end
  -- `att` is absent until the first attempt.
  return {id, f[1], f[2], st, f[4] or '0', f[5], f[6], f[7], f[8], f[9], f[10],
    redis.call('LRANGE', errors_key(id), 0, -1)}
end

