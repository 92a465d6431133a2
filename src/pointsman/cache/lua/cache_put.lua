-- Store an entry, then evict least recently used ones until the bounds hold.
-- KEYS: entry, lru, sizes, totals, stats.
-- ARGV: member, payload, cost micros, ttl ms, size, max entries, max bytes, entry key prefix.
-- Returns how many entries were evicted. Evicted entry keys are built from the prefix: the
-- cache needs one Redis (or Sentinel), not Cluster.
local member = ARGV[1]
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'c', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local old = tonumber(redis.call('HGET', KEYS[3], member) or '0')
redis.call('HSET', KEYS[3], member, ARGV[5])
local bytes = redis.call('HINCRBY', KEYS[4], 'bytes', tonumber(ARGV[5]) - old)
redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[4], 'uses', 1), member)
redis.call('HINCRBY', KEYS[5], 'stores', 1)
local max_entries, max_bytes = tonumber(ARGV[6]), tonumber(ARGV[7])
local evicted = 0
local count = redis.call('ZCARD', KEYS[2])
while count > max_entries or (bytes > max_bytes and count > 1) do
  local popped = redis.call('ZPOPMIN', KEYS[2])
  local victim = popped[1]
  redis.call('DEL', ARGV[8] .. victim)
  local size = tonumber(redis.call('HGET', KEYS[3], victim) or '0')
  redis.call('HDEL', KEYS[3], victim)
  bytes = redis.call('HINCRBY', KEYS[4], 'bytes', -size)
  count = count - 1
  evicted = evicted + 1
end
if evicted > 0 then
  redis.call('HINCRBY', KEYS[4], 'evictions', evicted)
end
return evicted
