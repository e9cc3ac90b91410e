-- Store one live-data snapshot and announce it, atomically (run inside the publisher's MULTI/EXEC).
-- KEYS[1] snapshot key (also the channel)
-- KEYS[2] the diff base: a HASH of what the last stored snapshot held (symbol -> quantity, or
--         balance field -> value) plus its as_of under "__as_of__"; the diff reads it, not the big JSON
-- KEYS[3] the publish-time index (ZSET "kind:account" -> ms)
-- KEYS[4] the incoming key: the new envelope (JSON), SET with its TTL by the same transaction just before
--         this script. It is renamed into place rather than passed as an argument: copying an argument of
--         a few hundred KB into Lua costs Redis about a millisecond, a RENAME costs nothing.
-- ARGV[1] the new envelope's as_of (text, sortable)   ARGV[2] the new diff map (JSON object of strings or null)
-- ARGV[3] notification JSON without its closing brace   ARGV[4] account id   ARGV[5] TTL seconds (0: none)
-- ARGV[6] kind: "positions" or "balances"   ARGV[7] published_at in epoch milliseconds
-- ARGV[8] a digest of ARGV[2] (SHA-1, hex)
-- Returns 1 when stored, 0 when the stored snapshot is newer (an older one never overwrites it).
-- The diff base also holds the digest of the map it was last written from, under "__digest__": when the new
-- map has the same digest (nothing moved: the usual case for quantities), the summary is empty and the
-- map is neither read nor decoded, which is most of this script's work for a large account.

local AS_OF = "__as_of__"
local DIGEST = "__digest__"

local function array(items)
  if #items == 0 then return "[]" end
  return cjson.encode(items)
end

local stored = redis.call("HMGET", KEYS[2], AS_OF, DIGEST)
local old_as_of, old_digest = stored[1], stored[2]
if old_as_of and old_as_of > ARGV[1] then
  redis.call("DEL", KEYS[4])
  return 0
end
local first = redis.call("EXISTS", KEYS[1]) == 0
local digest = ARGV[8]
local ttl = tonumber(ARGV[5])

local function store_and_announce(changes)
  redis.call("RENAME", KEYS[4], KEYS[1])  -- the incoming key carries the snapshot's TTL
  if not (ttl and ttl > 0) then redis.call("PERSIST", KEYS[1]) end
  redis.call("HSET", KEYS[2], AS_OF, ARGV[1], DIGEST, digest)
  if ttl and ttl > 0 then redis.call("EXPIRE", KEYS[2], ttl) end
  redis.call("ZADD", KEYS[3], tonumber(ARGV[7]), ARGV[6] .. ":" .. ARGV[4])
  redis.call("PUBLISH", KEYS[1], ARGV[3] .. ',"changes":' .. changes .. '}')
  return 1
end

if not first and old_digest == digest then
  if ARGV[6] == "positions" then
    return store_and_announce('{"first":false,"opened":[],"closed":[],"quantity_changed":[]}')
  end
  return store_and_announce('{"first":false,"changed_fields":[]}')
end

local old_map = {}
local flat = redis.call("HGETALL", KEYS[2])
for i = 1, #flat, 2 do
  if flat[i] ~= AS_OF and flat[i] ~= DIGEST then old_map[flat[i]] = flat[i + 1] end
end
if first then old_map = {} end

local new_map = {}
for name, value in pairs(cjson.decode(ARGV[2])) do
  if value == cjson.null then value = "" end  -- a hash holds strings; "" stands for null
  new_map[name] = value
end

local changes
if ARGV[6] == "positions" then
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
  changes = '{"first":' .. tostring(first) .. ',"opened":' .. array(opened) ..
            ',"closed":' .. array(closed) .. ',"quantity_changed":' .. array(changed) .. '}'
else
  local fields = {}
  for name, value in pairs(new_map) do
    if not first and old_map[name] ~= value then table.insert(fields, name) end
  end
  table.sort(fields)
  changes = '{"first":' .. tostring(first) .. ',"changed_fields":' .. array(fields) .. '}'
end

-- Bring the diff base up to date by writing only what changed (cheap when little moved).
local writes = {}
local removals = {}
for name, value in pairs(new_map) do
  if old_map[name] ~= value then
    table.insert(writes, name)
    table.insert(writes, value)
  end
end
for name, _ in pairs(old_map) do
  if new_map[name] == nil then table.insert(removals, name) end
end
if first then redis.call("DEL", KEYS[2]) end
for i = 1, #writes, 1000 do
  redis.call("HSET", KEYS[2], unpack(writes, i, math.min(i + 999, #writes)))
end
for i = 1, #removals, 1000 do
  redis.call("HDEL", KEYS[2], unpack(removals, i, math.min(i + 999, #removals)))
end
return store_and_announce(changes)
