-- Pauses ('1') or resumes ('0') the queue. ARGV: prefix, flag.
redis.call('HSET', META, 'paused', ARGV[2])
wake()
return 1
