-- Delete the given members. KEYS: lru, sizes, totals. ARGV: entry key prefix, members...
-- Returns how many entries existed.
local deleted = 0
for i = 2, #ARGV do
  local member = ARGV[i]
  deleted = deleted + redis.call('DEL', ARGV[1] .. member)
  local size = redis.call('HGET', KEYS[2], member)
  if size then
    redis.call('HDEL', KEYS[2], member)
    redis.call('HINCRBY', KEYS[3], 'bytes', -tonumber(size))
  end
  redis.call('ZREM', KEYS[1], member)
end
return deleted
