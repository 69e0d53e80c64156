"""The Lua scripts the coordinator runs in Redis: each one step that must be atomic there.

Their keys are named in the docstring of :mod:`app.runs.backends.redis`.
"""

# Appends entries ARGV[6..] from seq ARGV[4] if the attempt may write; publishes them; on
# the terminal append, releases the lease and the thread and starts the log's TTL.
# Idempotent: entries already there (a retry after a lost reply) are skipped.
# -1: another attempt writes (fenced). -3: no attempt key, -2 with a log shorter than what
# this worker committed: Redis lost data (a restart without AOF, a failover), not a takeover.
APPEND = """
local attempt = redis.call('GET', KEYS[2])
if not attempt then return -3 end
if attempt ~= ARGV[1] then return -1 end
local first = tonumber(ARGV[4])
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_seq = 0
if #newest > 0 then last_seq = tonumber(string.match(newest[1][1], '-(%d+)$')) end
local n = #ARGV - 5
local skip = last_seq - (first - 1)
if skip < 0 or skip > n then return -2 end
local parts = {}
for i = skip + 1, n do
  redis.call('XADD', KEYS[1], '0-' .. (first + i - 1), 'e', ARGV[5 + i])
  parts[#parts + 1] = ARGV[5 + i]
end
if #parts > 0 or ARGV[3] == '1' then
  redis.call('PUBLISH', KEYS[4], (first + skip) .. '\\n' .. ARGV[3] .. '\\n' .. table.concat(parts, '\\n'))
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('ZREM', KEYS[5], ARGV[5])
  redis.call('HDEL', KEYS[6], ARGV[5])
  if redis.call('GET', KEYS[7]) == ARGV[5] then redis.call('DEL', KEYS[7]) end
end
return first + n - 1
"""

NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

# Fresh runs, leased to this worker, each with its first event committed as seq 1 and
# published as APPEND publishes it (so its stream's first read waits for no flush).
# KEYS[3..]: per run, its attempt key, log key and log channel; ARGV[1] the worker, ARGV[2]
# the lease in ms, then per run, in KEYS' order, its id, its attempt and its first event.
# Idempotent (a retry after a lost reply): a log that has entries is left as it is.
BEGIN = (
    NOW_MS
    + """
for i = 0, (#KEYS - 2) / 3 - 1 do
  local run_id, attempt, first = ARGV[3 * i + 3], ARGV[3 * i + 4], ARGV[3 * i + 5]
  redis.call('SET', KEYS[3 * i + 3], attempt)
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), run_id)
  redis.call('HSET', KEYS[2], run_id, ARGV[1] .. ':' .. attempt)
  if redis.call('XLEN', KEYS[3 * i + 4]) == 0 then
    redis.call('XADD', KEYS[3 * i + 4], '0-1', 'e', first)
    redis.call('PUBLISH', KEYS[3 * i + 5], '1\\n0\\n' .. first)
  end
end
return 1
"""
)

# Renew a lease we hold; re-take one that lapsed if nobody claimed it meanwhile. 2: the log
# is closed (its terminal event is in); 0: another attempt holds the run; -3: Redis lost it.
RENEW = (
    NOW_MS
    + """
if redis.call('EXISTS', KEYS[4]) == 1 then return 2 end
if redis.call('EXISTS', KEYS[3]) == 0 then return -3 end
local holder = redis.call('HGET', KEYS[2], ARGV[1])
local me = ARGV[2] .. ':' .. ARGV[3]
if holder == me or (not holder and redis.call('GET', KEYS[3]) == ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], me)
  return 1
end
return 0
"""
)

# Claim a run whose lease expired: the next attempt is ours. The attempt (the fencing token)
# grows on every claim; the run's count of lost workers (KEYS[6]) only when the run was not
# handed over (KEYS[5], set by a graceful shutdown to '1', or to 'lost' by a claim given back
# because its takeover could not start): STAGECAST_RUN_MAX_ATTEMPTS bounds failures.
CLAIM = (
    NOW_MS
    + """
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) > now then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('ZREM', KEYS[1], ARGV[1]) return 0 end
local attempt = redis.call('INCR', KEYS[3])
local given = redis.call('GET', KEYS[5])
redis.call('DEL', KEYS[5])
if not given then
  redis.call('INCR', KEYS[6])
  redis.call('PEXPIRE', KEYS[6], 86400000)
end
local handed = 0
if given == '1' then handed = 1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. attempt)
return {attempt, handed}
"""
)

# Redis lost a run that executes here (docs/faults.md, "Store loss"): write back its attempt,
# the entries this worker committed (ARGV[6..], from seq 1), its lease and its thread's mark.
# Refused (-1) if another attempt holds the run meanwhile.
RESEED = (
    NOW_MS
    + """
local current = redis.call('GET', KEYS[2])
if current and current ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
for i = 6, #ARGV do redis.call('XADD', KEYS[1], '0-' .. (i - 5), 'e', ARGV[i]) end
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), ARGV[3])
redis.call('HSET', KEYS[6], ARGV[3], ARGV[4] .. ':' .. ARGV[1])
redis.call('SET', KEYS[7], ARGV[3], 'NX', 'PX', ARGV[5])
return #ARGV - 5
"""
)

# Let the lease lapse now, so another worker claims the run on its next tick.
HAND_OVER = """
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('SET', KEYS[3], ARGV[4] or '1', 'PX', ARGV[3])
  redis.call('ZADD', KEYS[1], 0, ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
"""

# One clock (docs/faults.md): deadlines shared by hosts are Redis TIME, never a host's clock.
EXPIRED = NOW_MS + "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)"
WATCH = (
    NOW_MS
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)
WATCHERS = NOW_MS + "return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')"
