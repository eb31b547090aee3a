-- A schedule's firing. KEYS[10] is the schedules' watermarks (a hash: schedule -> slot ms).
-- ARGV: prefix, the call's nonce, the schedule, the slot (ms), then the job's fields as add.lua
-- takes them (none: only the watermark moves). If the slot is later than the schedule's
-- watermark (or it has none), moves the watermark and adds the job, in one step: answers 1; else
-- changes nothing and answers 0. The same call repeated after a lost answer answers 1 again.
local schedule, slot = ARGV[3], tonumber(ARGV[4])
local mark = redis.call('HGET', KEYS[10], schedule)
if mark then
  local at = string.find(mark, ':', 1, true)
  local seen, by = tonumber(string.sub(mark, 1, at - 1)), string.sub(mark, at + 1)
  if slot <= seen then
    return (slot == seen and by == ARGV[2]) and 1 or 0
  end
end
redis.call('HSET', KEYS[10], schedule, ms(slot) .. ':' .. ARGV[2])
add_jobs(5)
return 1
