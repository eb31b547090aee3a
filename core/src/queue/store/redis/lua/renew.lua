-- Extends leases. ARGV: prefix, lease (ms), then id, token per lease. Answers the ids whose lease
-- was lost (the token is not the job's current one, or the job is no longer active).
local now = now_ms()
local lease = tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', job_key(id), 'st', 'ls')
  if f[1] == 'a' and f[2] == token then
    redis.call('ZADD', ACTIVE, 'XX', now + lease, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
