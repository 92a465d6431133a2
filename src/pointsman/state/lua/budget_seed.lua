-- Set a ledger's spend when it has none yet. KEYS: hash. ARGV: spent, expire_at ('' = none).
local set = redis.call('HSETNX', KEYS[1], 'spent', ARGV[1])
if set == 1 and ARGV[2] ~= '' then
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
end
return set
