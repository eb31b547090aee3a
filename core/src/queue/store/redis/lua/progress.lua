-- Records a leased job's progress. ARGV: prefix, id, token, progress. Answers 1, or 0 when the
-- lease was lost.
local key = job_key(ARGV[2])
local f = redis.call('HMGET', key, 'st', 'ls')
if f[1] == 'a' and f[2] == ARGV[3] then
  redis.call('HSET', key, 'prog', ARGV[4])
  return 1
end
return 0
