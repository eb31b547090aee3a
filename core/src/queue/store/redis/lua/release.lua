-- Ends the lease KEYS[1] now if ARGV[1] holds it (its token kept). Answers 1 if it did.
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'until', 0)
return 1
