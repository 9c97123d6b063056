using System.Security.Cryptography;
using System.Text;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Mixer.Adapters.Quota;

internal sealed class RedisQuotaHandler(
    Dictionary<string, RedisQuotaLimit> limits,
    ConnectionMultiplexer[] pool,
    TimeProvider time,
    ILogger logger) : IQuotaHandler
{
    private int _next;

    public async ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken)
    {
        if (!limits.TryGetValue(instance.Name, out var limit))
        {
            RedisQuotaLog.NoLimit(logger, instance.Name);
            return new QuotaResult(0, TimeSpan.Zero, StatusCodes.Internal, $"redisquota: no limit configured for quota {instance.Name}");
        }

        // Giving rate-limit units back is not supported (Istio's scripts have no release either).
        if (request.Amount <= 0)
        {
            return default;
        }

        var (counter, max) = CounterFor(limit, instance);
        var keys = Keys(counter + "|" + limit.RateLimitAlgorithm, request.DeduplicationId);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var windowMs = (long)Math.Ceiling(limit.ValidDuration.TotalMilliseconds);
        var dedup = request.DeduplicationId ?? string.Empty;
        var best = request.BestEffort ? 1 : 0;
        var db = pool[(int)((uint)Interlocked.Increment(ref _next) % (uint)pool.Length)].GetDatabase();

        RedisResult result;
        try
        {
            result = limit.RateLimitAlgorithm == RateLimitAlgorithm.RollingWindow
                ? await db.ScriptEvaluateAsync(
                    RedisScripts.RollingWindow,
                    keys,
                    [max, windowMs, (long)Math.Ceiling(limit.BucketDuration.TotalMilliseconds), best, request.Amount, nowMs, dedup]).ConfigureAwait(false)
                : await db.ScriptEvaluateAsync(
                    RedisScripts.FixedWindow,
                    keys,
                    [max, windowMs, best, request.Amount, nowMs, dedup]).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisQuotaLog.ScriptFailed(logger, ex, counter);
            return new QuotaResult(0, TimeSpan.Zero, StatusCodes.Unavailable, "redisquota: Service Unavailable");
        }

        var reply = (RedisResult[])result!;
        var granted = (long)reply[0];
        var validMs = (long)reply[1];
        RedisQuotaLog.Allocated(logger, counter, granted, request.Amount, max);

        // As Istio's redisquota: nothing granted is RESOURCE_EXHAUSTED (memquota says OK with 0).
        return granted <= 0
            ? new QuotaResult(0, TimeSpan.Zero, StatusCodes.ResourceExhausted, "redisquota: Resource exhausted")
            : new QuotaResult(granted, TimeSpan.FromMilliseconds(validMs));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in pool)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The counter a request spends from: its instance and dimensions, plus the matching override
    /// (which has a limit, and so a counter, of its own).
    /// </summary>
    private static (string Counter, long Max) CounterFor(RedisQuotaLimit limit, QuotaInstance instance)
    {
        var key = QuotaKeys.Make(instance.Name, instance.Dimensions);
        foreach (var o in limit.Overrides)
        {
            if (QuotaKeys.Matches(o.Dimensions, instance.Dimensions))
            {
                var sb = new StringBuilder(key).Append("|override");
                foreach (var (k, v) in o.Dimensions.OrderBy(d => d.Key, StringComparer.Ordinal))
                {
                    sb.Append(';').Append(k).Append('=').Append(v);
                }

                return (sb.ToString(), o.MaxAmount);
            }
        }

        return (key, limit.MaxAmount);
    }

    // Keys share a hash tag ({...}) so a script's keys live on one Redis Cluster slot. The tag is a
    // digest of the counter name: dimension values may hold any character, braces included.
    private static RedisKey[] Keys(string counter, string? dedupId)
    {
        var tag = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(counter)).AsSpan(0, 16));
        var baseKey = $"mixer:quota:{{{tag}}}";
        return [baseKey + ":counter", baseKey + ":dedup:" + (dedupId ?? string.Empty)];
    }
}
