-- Admit one request against every check, or against none.
-- KEYS: per check in order: window -> log, total; bucket -> level; slots -> leases
-- ARGV: now ('' = server time), entry id, then per check one of
--       'w', limit, seconds, cost | 'b', capacity, rate, cost | 's', limit, ttl
-- Returns {admitted 0/1, first blocking check (0 = none),
--          {admitted, limit, remaining, reset_after, retry_after} per check as strings}
local now = clock(ARGV[1])
local id = ARGV[2]
local plans, states = {}, {}
local k, p, blocked = 1, 3, 0
while p <= #ARGV do
  local kind = ARGV[p]
  local plan, state = {kind = kind}, nil
  if kind == 'w' then
    plan.log, plan.total, plan.cost = KEYS[k], KEYS[k + 1], ARGV[p + 3]
    local limit, secs, cost = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
    k, p, plan.secs = k + 2, p + 4, secs
    local used = window_used(plan.log, plan.total, now - secs)
    if used + cost <= limit then
      state = {1, limit, limit - used - cost, secs, 0}
    else
      -- Refused: the window is full again once its newest entry has left.
      local newest = 0
      local last = redis.call('ZRANGE', plan.log, -1, -1, 'WITHSCORES')
      if #last > 0 then
        newest = tonumber(last[2]) + secs - now
      end
      local wait = -1
      if cost <= limit then
        wait = window_wait(plan.log, used + cost - limit, secs, now)
      end
      state = {0, limit, math.max(0, limit - used), newest, wait}
    end
  elseif kind == 'b' then
    plan.key = KEYS[k]
    local cap, rate, cost = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
    k, p = k + 1, p + 4
    local now_us = micros(now)
    local held = bucket_level(plan.key, now_us, cap, rate)
    if cost > cap then
      state = {0, cap, math.max(0, held), (cap - held) / rate, -1}
    elseif held + TOLERANCE * math.max(1, cap) >= cost then
      local left = held - cost
      state = {1, cap, math.max(0, left), (cap - left) / rate, 0}
      plan.tokens, plan.now_us, plan.cap, plan.rate = left, now_us, cap, rate
    else
      state = {0, cap, math.max(0, held), (cap - held) / rate, (cost - held) / rate}
    end
  else
    plan.key = KEYS[k]
    local limit, ttl = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
    k, p, plan.ttl = k + 1, p + 3, ttl
    redis.call('ZREMRANGEBYSCORE', plan.key, '-inf', num(now))
    local used = redis.call('ZCARD', plan.key)
    local first = 0
    if used > 0 then
      first = tonumber(redis.call('ZRANGE', plan.key, 0, 0, 'WITHSCORES')[2]) - now
    end
    if used < limit then
      state = {1, limit, limit - used - 1, first, 0}
    else
      state = {0, limit, 0, first, first}
    end
  end
  plans[#plans + 1] = plan
  states[#states + 1] = state
  if blocked == 0 and state[1] == 0 then
    blocked = #plans
  end
end
if blocked == 0 then
  for _, plan in ipairs(plans) do
    if plan.kind == 'w' then
      redis.call('ZADD', plan.log, num(now), id .. '|' .. plan.cost)
      redis.call('INCRBY', plan.total, plan.cost)
      keep_for(plan.log, plan.secs * 1000)
      keep_for(plan.total, plan.secs * 1000)
    elseif plan.kind == 'b' then
      bucket_store(plan.key, plan.tokens, plan.now_us, plan.cap, plan.rate)
    else
      redis.call('ZADD', plan.key, num(now + plan.ttl), id)
      local want = math.ceil(plan.ttl * 1000) + MARGIN_MS
      if redis.call('PTTL', plan.key) < want then
        redis.call('PEXPIRE', plan.key, want)
      end
    end
  end
end
local out = {blocked == 0 and 1 or 0, blocked}
for i, s in ipairs(states) do
  out[2 + i] = {s[1], num(s[2]), num(s[3]), num(s[4]), num(s[5])}
end
return out
