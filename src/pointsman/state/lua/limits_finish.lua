-- Close an admitted request with its actual costs.
-- KEYS: as limits_acquire
-- ARGV: now, entry id, then per check one of
--       'w', seconds, admitted cost, actual | 'b', capacity, rate, admitted cost, actual | 's'
local now = clock(ARGV[1])
local id = ARGV[2]
local k, p = 1, 3
while p <= #ARGV do
  local kind = ARGV[p]
  if kind == 'w' then
    local log, total = KEYS[k], KEYS[k + 1]
    local secs, cost, actual = tonumber(ARGV[p + 1]), ARGV[p + 2], ARGV[p + 3]
    k, p = k + 2, p + 4
    window_used(log, total, now - secs)
    local score = redis.call('ZSCORE', log, id .. '|' .. cost)
    if score then
      redis.call('ZREM', log, id .. '|' .. cost)
      redis.call('ZADD', log, score, id .. '|' .. actual)
      redis.call('INCRBY', total, tonumber(actual) - tonumber(cost))
    end
  elseif kind == 'b' then
    local key = KEYS[k]
    local cap, rate = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
    local cost, actual = tonumber(ARGV[p + 3]), tonumber(ARGV[p + 4])
    k, p = k + 1, p + 5
    local now_us = micros(now)
    local tokens = math.min(cap, bucket_level(key, now_us, cap, rate) - (actual - cost))
    bucket_store(key, tokens, now_us, cap, rate)
  else
    redis.call('ZREM', KEYS[k], id)
    k, p = k + 1, p + 1
  end
end
return 1
