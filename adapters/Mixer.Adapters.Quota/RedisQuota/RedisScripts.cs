namespace Mixer.Adapters.Quota;

/// <summary>
/// The Lua that makes one allocation atomic in Redis. Times are Unix milliseconds from the
/// caller's clock (so every replica must keep its clock in sync, as with Istio's scripts);
/// milliseconds keep every number exact in Lua's doubles. Both return {granted, validMs}, and
/// remember a grant under its deduplication id until the grant's window ends, answering a retry
/// with the same grant.
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// KEYS: counter hash {used, expire}, dedup hash. ARGV: max, windowMs, bestEffort (0/1),
    /// amount, nowMs, dedupId ('' for none). The counter starts at the first request and resets
    /// when its window has ended.
    /// </summary>
    public const string FixedWindow = """
        local max = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local bestEffort = ARGV[3] == '1'
        local amount = tonumber(ARGV[4])
        local now = tonumber(ARGV[5])
        local dedup = ARGV[6] ~= ''

        if dedup then
          local earlier = redis.call('HMGET', KEYS[2], 'granted', 'expire')
          local granted, expire = tonumber(earlier[1]), tonumber(earlier[2])
          if granted and expire and now < expire then
            return {granted, expire - now}
          end
        end

        local state = redis.call('HMGET', KEYS[1], 'used', 'expire')
        local used = tonumber(state[1]) or 0
        local expire = tonumber(state[2]) or 0
        if expire <= now then
          used = 0
          expire = now + window
        end

        local granted = amount
        if used + amount > max then
          if bestEffort then
            granted = math.max(0, max - used)
          else
            granted = 0
          end
        end

        redis.call('HSET', KEYS[1], 'used', used + granted, 'expire', expire)
        redis.call('PEXPIRE', KEYS[1], expire - now + 1000)
        if granted <= 0 then
          return {0, 0}
        end

        if dedup then
          redis.call('HSET', KEYS[2], 'granted', granted, 'expire', expire)
          redis.call('PEXPIRE', KEYS[2], expire - now + 1000)
        end
        return {granted, expire - now}
        """;

    /// <summary>
    /// KEYS: bucket hash {bucket index: units}, dedup hash. ARGV: max, windowMs, bucketMs,
    /// bestEffort (0/1), amount, nowMs, dedupId. Units are booked in the bucket of now; the
    /// window is the last ceil(window / bucket) buckets, older ones are deleted as they fall out.
    /// </summary>
    public const string RollingWindow = """
        local max = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local bucket = tonumber(ARGV[3])
        local bestEffort = ARGV[4] == '1'
        local amount = tonumber(ARGV[5])
        local now = tonumber(ARGV[6])
        local dedup = ARGV[7] ~= ''

        if dedup then
          local earlier = redis.call('HMGET', KEYS[2], 'granted', 'expire')
          local granted, expire = tonumber(earlier[1]), tonumber(earlier[2])
          if granted and expire and now < expire then
            return {granted, expire - now}
          end
        end

        local current = math.floor(now / bucket)
        local oldest = current - math.ceil(window / bucket) + 1
        local used = 0
        local buckets = redis.call('HGETALL', KEYS[1])
        for i = 1, #buckets, 2 do
          if tonumber(buckets[i]) < oldest then
            redis.call('HDEL', KEYS[1], buckets[i])
          else
            used = used + tonumber(buckets[i + 1])
          end
        end

        local granted = amount
        if used + amount > max then
          if bestEffort then
            granted = math.max(0, max - used)
          else
            granted = 0
          end
        end

        if granted <= 0 then
          return {0, 0}
        end

        redis.call('HINCRBY', KEYS[1], string.format('%d', current), granted)
        redis.call('PEXPIRE', KEYS[1], window + bucket + 1000)
        if dedup then
          redis.call('HSET', KEYS[2], 'granted', granted, 'expire', now + window)
          redis.call('PEXPIRE', KEYS[2], window + 1000)
        end
        return {granted, window}
        """;
}
