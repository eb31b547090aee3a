-- The scheduler's leader lease. KEYS[1]: the lease (a hash: holder, token, until ms). ARGV:
-- holder, ttl (ms). Takes or keeps the lease; answers its token, or -1 while another holder's
-- lease runs. The token grows when the lease changes hands, not while one holder keeps it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'holder', 'token', 'until')
local holder, token, untl = f[1], tonumber(f[2]), tonumber(f[3])
if not holder then
  token = 1
elseif holder ~= ARGV[1] then
  if untl > now then
    return -1
  end
  token = token + 1
end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', token,
  'until', string.format('%.0f', now + tonumber(ARGV[2])))
return token
