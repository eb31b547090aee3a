-- The dead-letter queue, oldest first. ARGV: prefix, first rank, last rank.
local now = now_ms()
local out = {}
for _, id in ipairs(redis.call('ZRANGE', DEAD, ARGV[2], ARGV[3])) do
  local job = info(id, now)
  if job then
    out[#out + 1] = job
  end
end
return out
