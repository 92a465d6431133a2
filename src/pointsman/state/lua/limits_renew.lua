-- Extend leases held by an entry. KEYS: lease sets. ARGV: now, entry id, then one ttl per key.
local now = clock(ARGV[1])
local id = ARGV[2]
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[2 + i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', num(now))
  if redis.call('ZSCORE', key, id) then
    redis.call('ZADD', key, 'XX', num(now + ttl), id)
    local want = math.ceil(ttl * 1000) + MARGIN_MS
    if redis.call('PTTL', key) < want then
      redis.call('PEXPIRE', key, want)
    end
  end
end
return 1
