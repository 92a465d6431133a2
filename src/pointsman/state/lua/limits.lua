-- Rate-limit checks. A window is a sorted set {<id>|<weight> -> time} plus a string holding the
-- sum of the weights; a bucket is a hash of its level and when that was (mirrored from
-- state/bucket.py in the same operation order); slots are a sorted set {<id> -> expiry}.

local TOLERANCE = 1e-9

local function weight(member)
  return tonumber(string.match(member, '|(%-?%d+)$'))
end

-- Drop entries at or before the cutoff and return the weight still in the window.
local function window_used(log, total, cutoff)
  local used = tonumber(redis.call('GET', total)) or 0
  local dead = redis.call('ZRANGEBYSCORE', log, '-inf', num(cutoff))
  if #dead > 0 then
    for _, member in ipairs(dead) do
      used = used - weight(member)
    end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', num(cutoff))
    if redis.call('ZCARD', log) == 0 then
      used = 0
    end
    redis.call('SET', total, num(used), 'KEEPTTL')
  end
  return used
end

-- Seconds until the oldest entries holding at least `need` have left the window.
local function window_wait(log, need, secs, now)
  local freed, start = 0, 0
  while true do
    local batch = redis.call('ZRANGE', log, start, start + 99, 'WITHSCORES')
    if #batch == 0 then
      return secs
    end
    for j = 1, #batch, 2 do
      freed = freed + weight(batch[j])
      if freed >= need then
        return tonumber(batch[j + 1]) + secs - now
      end
    end
    start = start + 100
  end
end

local MICROS = 1000000

-- Whole microseconds, rounded as state/bucket.py rounds them.
local function micros(seconds)
  return math.floor(seconds * MICROS + 0.5)
end

-- A bucket is a hash {t = tokens at the last update, s = that time in microseconds}.
local function bucket_level(key, now_us, cap, rate)
  local v = redis.call('HMGET', key, 't', 's')
  if not v[1] then
    return cap
  end
  return math.min(cap, tonumber(v[1]) + math.max(0, now_us - tonumber(v[2])) * rate / MICROS)
end

local function keep_for(key, ms)
  redis.call('PEXPIRE', key, math.max(0, math.ceil(ms)) + MARGIN_MS)
end

local function bucket_store(key, tokens, now_us, cap, rate)
  redis.call('HSET', key, 't', num(tokens), 's', num(now_us))
  keep_for(key, (cap - tokens) / rate * 1000)
end
