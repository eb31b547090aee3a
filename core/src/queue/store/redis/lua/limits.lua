-- Sets the queue's limits. ARGV: prefix, concurrency, rate max, rate window (ms); '' for none.
local fields = {'conc', 'rmax', 'rwin'}
for i, field in ipairs(fields) do
  local v = ARGV[i + 1]
  if v == '' then
    redis.call('HDEL', META, field)
  else
    redis.call('HSET', META, field, v)
  end
end
wake()
return 1
