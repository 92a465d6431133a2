-- Reserve an amount on every ledger, or on none.
-- KEYS: per ledger i: KEYS[2i-1] = hash, KEYS[2i] = reservations
-- ARGV: now ('' = server time), reservation id, amount, ttl seconds,
--       then per ledger: cap ('' = none), expire_at unix seconds ('' = none)
-- Returns {granted 0/1, first blocking ledger (0 = none), spent_1, reserved_1, spent_2, ...}
local now = clock(ARGV[1])
local id, amount, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS / 2
local spent, reserved = {}, {}
local blocked = 0
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  sweep(h, z, now)
  local v = redis.call('HMGET', h, 'spent', 'reserved')
  spent[i], reserved[i] = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  local cap = ARGV[3 + 2 * i]
  if blocked == 0 and cap ~= '' and spent[i] + reserved[i] + amount > tonumber(cap) then
    blocked = i
  end
end
if blocked == 0 then
  for i = 1, n do
    local h, z = KEYS[2 * i - 1], KEYS[2 * i]
    local before = reserved[i]
    reserved[i] = redis.call('HINCRBY', h, 'reserved', ARGV[3])
    redis.call('HSET', h, 'r:' .. id, ARGV[3])
    redis.call('ZADD', z, num(now + ttl), id)
    -- Nothing was held, so the hold set was just created (Redis drops empty sets): give it,
    -- and the ledger, their lifetime. Doing it every time would cost two calls per level.
    local expire_at = ARGV[4 + 2 * i]
    if before == 0 and expire_at ~= '' then
      redis.call('EXPIREAT', h, expire_at)
      redis.call('EXPIREAT', z, expire_at)
    end
  end
end
local out = {blocked == 0 and 1 or 0, blocked}
for i = 1, n do
  out[#out + 1] = spent[i]
  out[#out + 1] = reserved[i]
end
return out
