-- How many jobs are in each state: waiting, delayed, active, completed, dead, paused (1/0).
-- Delayed jobs past their time count as waiting.
local now = now_ms()
local due = redis.call('ZCOUNT', DELAYED, '-inf', now)
return {
  redis.call('ZCARD', READY) + due,
  redis.call('ZCARD', DELAYED) - due,
  redis.call('ZCARD', ACTIVE),
  redis.call('ZCARD', DONE),
  redis.call('ZCARD', DEAD),
  (redis.call('HGET', META, 'paused') == '1') and 1 or 0,
}
