-- Read ledgers after releasing expired reservations.
-- KEYS: as budget_reserve. ARGV: now. Returns {spent_1, reserved_1, spent_2, ...}
local now = clock(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  sweep(h, z, now)
  local v = redis.call('HMGET', h, 'spent', 'reserved')
  out[#out + 1] = tonumber(v[1]) or 0
  out[#out + 1] = tonumber(v[2]) or 0
end
return out
