-- Removes a job that is not active. ARGV: prefix, id. Answers 1 (removed), 0 (none) or -1 (it
-- is running: refused).
local id = ARGV[2]
local key = job_key(id)
local f = redis.call('HMGET', key, 'st', 'prio', 'run', 'seq')
if not f[1] then
  return 0
end
if f[1] == 'a' then
  return -1
end
redis.call('ZREM', READY, ready_member(tonumber(f[3]), tonumber(f[4]), id))
redis.call('ZREM', DELAYED, id)
redis.call('ZREM', DONE, id)
redis.call('ZREM', DEAD, id)
redis.call('DEL', key, errors_key(id))
return 1
