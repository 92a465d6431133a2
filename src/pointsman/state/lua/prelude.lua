-- Prepended to every Pointsman script.
-- Scripts read the server clock (TIME) before writing; Redis >= 7 replicates effects anyway,
-- older servers need to be told.
redis.replicate_commands()

-- Lua's default number-to-string keeps 14 digits, which would round timestamps and sums on the
-- way back into Redis; 17 significant digits round-trip a double exactly.
local function num(x)
  return string.format('%.17g', x)
end

-- The caller's clock when it sent one (tests, or a deliberate choice), else the server's, so
-- every replica measures windows and lifetimes against one clock.
local function clock(given)
  if given ~= '' then
    return tonumber(given)
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Keys that outlive their data by this much cost little and absorb clock differences.
local MARGIN_MS = 60000
