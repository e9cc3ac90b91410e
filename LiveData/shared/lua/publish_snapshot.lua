-- Store one live-data snapshot and announce it, atomically (a script runs like MULTI/EXEC).
-- KEYS[1] snapshot key (also the channel), KEYS[2] the user's account index (a SET)
-- ARGV[1] the new envelope (JSON)      ARGV[2] its as_of (text, sortable)
-- ARGV[3] compact map for the diff (JSON object: positions symbol -> quantity; balances field -> value)
-- ARGV[4] notification JSON without its closing brace   ARGV[5] account id   ARGV[6] TTL seconds (0: none)
-- ARGV[7] kind: "positions" or "balances"
-- Returns 1 when stored, 0 when the stored snapshot is newer (an older one never overwrites it).

local function array(items)
  if #items == 0 then return "[]" end
  return cjson.encode(items)
end

local old_text = redis.call("GET", KEYS[1])
local old_map = {}
if old_text then
  local ok, old = pcall(cjson.decode, old_text)
  if ok and type(old) == "table" then
    if type(old.as_of) == "string" and old.as_of > ARGV[2] then
      return 0
    end
    if ARGV[7] == "positions" and type(old.positions) == "table" then
      for _, position in ipairs(old.positions) do
        if type(position) == "table" and position.symbol then
          old_map[position.symbol] = position.quantity
        end
      end
    elseif ARGV[7] == "balances" and type(old.balances) == "table" then
      old_map = old.balances
    end
  end
end

local new_map = cjson.decode(ARGV[3])
local changes
if ARGV[7] == "positions" then
  local opened, closed, changed = {}, {}, {}
  for symbol, quantity in pairs(new_map) do
    local before = old_map[symbol]
    if before == nil then
      table.insert(opened, symbol)
    elseif before ~= quantity then
      table.insert(changed, {symbol = symbol, from = before, to = quantity})
    end
  end
  for symbol, _ in pairs(old_map) do
    if new_map[symbol] == nil then table.insert(closed, symbol) end
  end
  table.sort(opened)
  table.sort(closed)
  table.sort(changed, function(a, b) return a.symbol < b.symbol end)
  changes = '{"first":' .. tostring(old_text == false) .. ',"opened":' .. array(opened) ..
            ',"closed":' .. array(closed) .. ',"quantity_changed":' .. array(changed) .. '}'
else
  local fields = {}
  for field, value in pairs(new_map) do
    if old_map[field] ~= value then table.insert(fields, field) end
  end
  table.sort(fields)
  changes = '{"first":' .. tostring(old_text == false) .. ',"changed_fields":' .. array(fields) .. '}'
end

local ttl = tonumber(ARGV[6])
if ttl and ttl > 0 then
  redis.call("SET", KEYS[1], ARGV[1], "EX", ttl)
else
  redis.call("SET", KEYS[1], ARGV[1])
end
redis.call("SADD", KEYS[2], ARGV[5])
redis.call("PUBLISH", KEYS[1], ARGV[4] .. ',"changes":' .. changes .. '}')
return 1
