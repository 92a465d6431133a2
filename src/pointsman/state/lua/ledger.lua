-- Budget ledgers. A ledger is a hash H {spent, reserved, r:<id> = amount, a:<label> = 1} and a
-- sorted set Z {<id> -> expiry time} of its outstanding reservations.

-- Release reservations whose time to live has run out, so a crashed replica never holds budget
-- for longer than that.
local function sweep(h, z, now)
  local dead = redis.call('ZRANGEBYSCORE', z, '-inf', num(now))
  if #dead == 0 then
    return
  end
  local freed = 0
  for _, rid in ipairs(dead) do
    local held = redis.call('HGET', h, 'r:' .. rid)
    if held then
      freed = freed + tonumber(held)
      redis.call('HDEL', h, 'r:' .. rid)
    end
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', num(now))
  if freed ~= 0 then
    redis.call('HINCRBY', h, 'reserved', num(-freed))
  end
end
