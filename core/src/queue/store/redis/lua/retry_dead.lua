-- Moves dead jobs back to the queue with fresh attempts; their errors are kept. ARGV: prefix,
-- then the ids (none: every dead job). Answers how many moved.
local now = now_ms()
local ids = {}
if #ARGV > 1 then
  for i = 2, #ARGV do
    ids[#ids + 1] = ARGV[i]
  end
else
  ids = redis.call('ZRANGE', DEAD, 0, -1)
end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', DEAD, id) == 1 then
    local key = job_key(id)
    redis.call('HSET', key, 'att', 0, 'stc', 0, 'run', ms(now))
    redis.call('HDEL', key, 'fin')
    make_ready(key, id)
    moved = moved + 1
  end
end
if moved > 0 then
  wake()
end
return moved
