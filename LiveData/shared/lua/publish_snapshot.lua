-- Store an account's live-data snapshots and announce them, all at once (a script runs atomically).
-- KEYS[1] the publish-time index (ZSET "kind:account" -> ms); then, per snapshot i = 0, 1, ...:
--   KEYS[2+3i] snapshot key (also the channel)
--   KEYS[3+3i] the diff base: a HASH of what the last stored snapshot held (symbol -> quantity, or balance
--              field -> value), its as_of under "__as_of__" and the digest of that map under "__digest__"
--   KEYS[4+3i] the incoming key: when ARGV[9+8i] is empty, the new envelope (JSON), SET with a TTL just
--              before this script (in the same round trip) under a name no other publish uses. A large
--              envelope is renamed into place rather than passed as an argument: copying a few hundred KB
--              into Lua costs Redis about a millisecond; a small one comes as ARGV[9+8i], saving commands.
-- ARGV[1] TTL seconds (0: none); then, per snapshot i:
--   ARGV[2+8i] kind ("positions" or "balances")   ARGV[3+8i] account id   ARGV[4+8i] as_of (sortable text)
--   ARGV[5+8i] published_at in epoch ms   ARGV[6+8i] the new diff map (JSON object of strings or null)
--   ARGV[7+8i] its digest   ARGV[8+8i] notification JSON without its closing brace
--   ARGV[9+8i] the envelope itself, or "" when it waits under the incoming key
-- Returns, per snapshot, 1 when stored, 0 when the stored one is newer (an older one never overwrites it).
-- When the new map has the digest of the stored one (nothing moved: the usual case for quantities), the
-- change summary is empty and the map is neither read nor decoded: most of this script's work otherwise.

local AS_OF = "__as_of__"
local DIGEST = "__digest__"
local ttl = tonumber(ARGV[1])
local expires = ttl and ttl > 0

local function array(items)
  if #items == 0 then return "[]" end
  return cjson.encode(items)
end

local function changes_between(kind, first, old_map, new_map)
  if kind == "positions" then
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
    return '{"first":' .. tostring(first) .. ',"opened":' .. array(opened) ..
           ',"closed":' .. array(closed) .. ',"quantity_changed":' .. array(changed) .. '}'
  end
  local fields = {}
  for name, value in pairs(new_map) do
    if not first and old_map[name] ~= value then table.insert(fields, name) end
  end
  table.sort(fields)
  return '{"first":' .. tostring(first) .. ',"changed_fields":' .. array(fields) .. '}'
end

-- Bring the diff base up to date by writing only what changed (cheap when little moved).
local function update_base(base, first, old_map, new_map)
  local writes, removals = {}, {}
  for name, value in pairs(new_map) do
    if old_map[name] ~= value then
      table.insert(writes, name)
      table.insert(writes, value)
    end
  end
  for name, _ in pairs(old_map) do
    if new_map[name] == nil then table.insert(removals, name) end
  end
  if first then redis.call("DEL", base) end
  for i = 1, #writes, 1000 do
    redis.call("HSET", base, unpack(writes, i, math.min(i + 999, #writes)))
  end
  for i = 1, #removals, 1000 do
    redis.call("HDEL", base, unpack(removals, i, math.min(i + 999, #removals)))
  end
end

local function publish(key, base, incoming, kind, account, as_of, published_ms, map_json, digest, note, inline)
  local stored = redis.call("HMGET", base, AS_OF, DIGEST)
  if stored[1] and stored[1] > as_of then
    if inline == "" then redis.call("DEL", incoming) end
    return 0
  end
  local first = redis.call("EXISTS", key) == 0
  local changes
  if not first and stored[2] == digest then
    if kind == "positions" then
      changes = '{"first":false,"opened":[],"closed":[],"quantity_changed":[]}'
    else
      changes = '{"first":false,"changed_fields":[]}'
    end
  else
    local old_map = {}
    if not first then
      local flat = redis.call("HGETALL", base)
      for i = 1, #flat, 2 do
        if flat[i] ~= AS_OF and flat[i] ~= DIGEST then old_map[flat[i]] = flat[i + 1] end
      end
    end
    local new_map = {}
    for name, value in pairs(cjson.decode(map_json)) do
      if value == cjson.null then value = "" end  -- a hash holds strings; "" stands for null
      new_map[name] = value
    end
    changes = changes_between(kind, first, old_map, new_map)
    update_base(base, first, old_map, new_map)
  end
  if inline ~= "" then
    if expires then redis.call("SET", key, inline, "EX", ttl) else redis.call("SET", key, inline) end
  else
    redis.call("RENAME", incoming, key)  -- the incoming key carries the snapshot's TTL
    if not expires then redis.call("PERSIST", key) end
  end
  redis.call("HSET", base, AS_OF, as_of, DIGEST, digest)
  if expires then redis.call("EXPIRE", base, ttl) end
  redis.call("ZADD", KEYS[1], tonumber(published_ms), kind .. ":" .. account)
  redis.call("PUBLISH", key, note .. ',"changes":' .. changes .. '}')
  return 1
end

local results = {}
for i = 0, (#KEYS - 1) / 3 - 1 do
  local k, a = 2 + 3 * i, 2 + 8 * i
  results[i + 1] = publish(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
                           ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7])
end
return results
