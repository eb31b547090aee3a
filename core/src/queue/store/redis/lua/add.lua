-- Adds jobs. ARGV: prefix, the call's nonce, then per job: id, name, data, priority, delay (ms),
-- options (JSON), keep (ms). Answers 1 (added) or 0 (the queue holds that id) per job.
return add_jobs(3)
