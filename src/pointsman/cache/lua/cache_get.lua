-- Read an entry and mark it used. KEYS: entry, lru, sizes, totals, stats.
-- ARGV: member, counter (hits | semantic_hits | '' to count nothing). Returns the payload,
-- or false.
-- A missing entry (expired) leaves the LRU index and the byte count here, not at eviction.
local found = redis.call('HMGET', KEYS[1], 'v', 'c')
if not found[1] then
  local size = redis.call('HGET', KEYS[3], ARGV[1])
  if size then
    redis.call('HDEL', KEYS[3], ARGV[1])
    redis.call('HINCRBY', KEYS[4], 'bytes', -tonumber(size))
    redis.call('ZREM', KEYS[2], ARGV[1])
  end
  return false
end
-- A use counter, not the clock: uses within one millisecond still order strictly.
redis.call('ZADD', KEYS[2], 'XX', redis.call('HINCRBY', KEYS[4], 'uses', 1), ARGV[1])
if ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[5], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[5], 'saved_micros', tonumber(found[2]) or 0)
end
return found[1]
