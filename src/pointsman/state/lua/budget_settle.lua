-- Release a reservation on every ledger and record the actual spend (in full, whatever it is).
-- KEYS: as budget_reserve
-- ARGV: now, reservation id, actual,
--       then per ledger: expire_at ('' = none), threshold count, then (label, amount) pairs
-- Returns per ledger {spent, reserved, held 0/1, {labels crossed for the first time}}
local now = clock(ARGV[1])
local id, actual = ARGV[2], ARGV[3]
local p = 4
local out = {}
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  sweep(h, z, now)
  local held = redis.call('HGET', h, 'r:' .. id)
  local reserved
  if held then
    redis.call('HDEL', h, 'r:' .. id)
    redis.call('ZREM', z, id)
    reserved = redis.call('HINCRBY', h, 'reserved', num(-tonumber(held)))
  else
    reserved = tonumber(redis.call('HGET', h, 'reserved')) or 0
  end
  local spent = redis.call('HINCRBY', h, 'spent', actual)
  -- The first spend on this ledger (it may never have been reserved on): give it its lifetime.
  if spent == tonumber(actual) and ARGV[p] ~= '' then
    redis.call('EXPIREAT', h, ARGV[p])
  end
  local count = tonumber(ARGV[p + 1])
  p = p + 2
  local crossed = {}
  for _ = 1, count do
    local label, amount = ARGV[p], tonumber(ARGV[p + 1])
    p = p + 2
    -- HSETNX makes "first time this period" atomic across replicas.
    if spent >= amount and redis.call('HSETNX', h, 'a:' .. label, '1') == 1 then
      crossed[#crossed + 1] = label
    end
  end
  out[i] = {spent, reserved, held and 1 or 0, crossed}
end
return out
