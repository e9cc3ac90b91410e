-- Sliding-window rate limits, shared by every worker: one ZSET of request times per limit.
-- KEYS[i]: the window key of limit i.   ARGV[2i-1]: its limit, ARGV[2i]: its window (ms).   ARGV[#ARGV]: a unique id.
-- Returns 0 when the request may go now (and records it under every key), else the milliseconds to wait.
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call("ZREMRANGEBYSCORE", key, "-inf", now - window)
  if redis.call("ZCARD", key) >= limit then
    local oldest = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
    wait = math.max(wait, tonumber(oldest[2]) + window - now + 1)
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call("ZADD", key, now, ARGV[#ARGV])
  redis.call("PEXPIRE", key, tonumber(ARGV[2 * i]))
end
return 0
