-- Prepended to every script. KEYS are the queue's keys, in the order `queue_keys` (mod.rs) gives
-- them; ARGV[1] is the queue's key prefix `<prefix>:{<queue>}`, from which the scripts build the
-- keys of single jobs (all in the queue's hash slot, as the hash tag is the same).
local P = ARGV[1]
local READY, DELAYED, ACTIVE, DONE, DEAD, META, MARKER, RATE, SEQ =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]

-- The server's clock, in ms: one clock for every machine, whatever theirs say.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A whole number as text, without an exponent.
local function ms(n)
  return string.format('%.0f', n)
end

local function job_key(id)
  return P .. ':j:' .. id
end

local function errors_key(id)
  return P .. ':e:' .. id
end

-- A ready job's member of READY. Its score is its priority; Redis orders equal scores by member,
-- byte-wise, so: the time the job became ready, then the order it was added in. A job handed back
-- gets the same member again, so it keeps its place.
local READY_ID_AT = 33
local function ready_member(run, seq, id)
  return string.format('%015.0f:%015.0f:', run, seq) .. id
end

local function make_ready(key, id)
  local f = redis.call('HMGET', key, 'prio', 'run', 'seq')
  redis.call('ZADD', READY, f[1], ready_member(tonumber(f[2]), tonumber(f[3]), id))
  redis.call('HSET', key, 'st', 'w')
end

-- Wakes one idle worker (blocked in BZPOPMIN on MARKER); none while the queue is paused.
local function wake()
  if redis.call('HGET', META, 'paused') ~= '1' then
    redis.call('ZADD', MARKER, 0, 'r')
  end
end

-- One failed attempt, as `AttemptError` reads it (JSON).
local function error_json(attempt, at, code, message)
  return '{"attempt":' .. ms(tonumber(attempt) or 0) .. ',"at_ms":' .. ms(at) .. ',"code":'
    .. cjson.encode(code) .. ',"message":' .. cjson.encode(message) .. '}'
end


-- Adds the jobs whose fields (id, name, data, priority, delay ms, options JSON, keep ms) start at
-- ARGV[from], seven per job; ARGV[2] is the call's nonce. Answers 1 (added) or 0 (the queue holds
-- that id, in any state) per job.
local function add_jobs(from)
  local now = now_ms()
  local nonce = ARGV[2]
  local out = {}
  local added = false
  -- The order counter is read once and written once per call, not incremented per job.
  local seq = tonumber(redis.call('GET', SEQ) or '0')
  local now_text = ms(now)
  for i = from, #ARGV, 7 do
    local id = ARGV[i]
    local key = job_key(id)
    if redis.call('EXISTS', key) == 1 then
      -- The same call repeated (its answer was lost) still added it.
      out[#out + 1] = (redis.call('HGET', key, 'an') == nonce) and 1 or 0
    else
      local prio, delay = ARGV[i + 3], tonumber(ARGV[i + 4])
      seq = seq + 1
      local run = now + delay
      local st = delay > 0 and 'd' or 'w'
      -- The counters `att` (attempts), `stc` (stalls) and `ls` (lease token) start absent, read
      -- as 0: three fields fewer make the add a sixth cheaper.
      redis.call('HSET', key, 'name', ARGV[i + 1], 'data', ARGV[i + 2], 'prio', prio,
        'run', delay > 0 and ms(run) or now_text, 'seq', seq, 'opts', ARGV[i + 5], 'keep', ARGV[i + 6],
        'created', now_text, 'an', nonce, 'st', st)
      if delay > 0 then
        redis.call('ZADD', DELAYED, run, id)
      else
        redis.call('ZADD', READY, prio, ready_member(run, seq, id))
      end
      added = true
      out[#out + 1] = 1
    end
  end
  if added then
    redis.call('SET', SEQ, ms(seq))
  end
  -- A delayed job wakes a worker too: its claim answers when the job is due.
  if added then
    wake()
  end
  return out
end
