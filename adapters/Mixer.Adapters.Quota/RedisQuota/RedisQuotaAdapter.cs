using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Mixer.Adapters.Quota;

/// <summary>
/// The <c>redisquota</c> adapter (Istio 1.0 <c>adapter.redisquota.config.Params</c>): rate limits
/// kept in Redis, so every mixs replica sharing the server enforces one limit. Each quota is a
/// FIXED_WINDOW (a counter reset every <c>validDuration</c>) or a ROLLING_WINDOW (counts kept per
/// <c>bucketDuration</c> and summed over the last <c>validDuration</c>); an allocation is one Lua
/// script, so concurrent callers never overshoot. The first override whose dimensions all match
/// sets another <c>maxAmount</c> (and a counter of its own). Connections: <c>redisServerUrl</c>
/// (host:port) and <c>connectionPoolSize</c> multiplexed connections.
/// </summary>
public sealed class RedisQuotaAdapter : Adapter<RedisQuotaParams>
{
    /// <inheritdoc/>
    public override AdapterInfo Info { get; } = new("redisquota", "Redis-based quotas", ["quota"]);

    /// <inheritdoc/>
    protected override void Validate(RedisQuotaParams p, ICollection<ConfigProblem> problems)
    {
        if (p.Quotas.Count == 0)
        {
            problems.Add(new ConfigProblem("quotas", "quota should not be empty"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < p.Quotas.Count; i++)
        {
            var q = p.Quotas[i];
            var at = $"quotas[{i}]";
            if (string.IsNullOrEmpty(q.Name))
            {
                problems.Add(new ConfigProblem($"{at}.name", "must name a quota instance (e.g. requestcount.quota.istio-system)"));
            }
            else if (!names.Add(q.Name))
            {
                problems.Add(new ConfigProblem($"{at}.name", $"quota {q.Name} is configured twice"));
            }

            if (q.MaxAmount < 0)
            {
                problems.Add(new ConfigProblem($"{at}.maxAmount", "must be >= 0"));
            }

            if (q.ValidDuration <= TimeSpan.Zero)
            {
                problems.Add(new ConfigProblem($"{at}.validDuration", "must be > 0"));
            }
            else if (q.ValidDuration < TimeSpan.FromMilliseconds(1))
            {
                problems.Add(new ConfigProblem($"{at}.validDuration", "must be at least 1ms"));
            }

            if (q.RateLimitAlgorithm == RateLimitAlgorithm.RollingWindow)
            {
                if (q.BucketDuration <= TimeSpan.Zero)
                {
                    problems.Add(new ConfigProblem($"{at}.bucketDuration", "must be > 0 for ROLLING_WINDOW"));
                }
                else if (q.BucketDuration < TimeSpan.FromMilliseconds(1))
                {
                    problems.Add(new ConfigProblem($"{at}.bucketDuration", "must be at least 1ms"));
                }
                else if (q.ValidDuration > TimeSpan.Zero && q.ValidDuration <= q.BucketDuration)
                {
                    problems.Add(new ConfigProblem($"{at}.validDuration", $"{GoDuration.Format(q.ValidDuration)} must be longer than bucketDuration {GoDuration.Format(q.BucketDuration)} for ROLLING_WINDOW"));
                }
            }

            for (var j = 0; j < q.Overrides.Count; j++)
            {
                var o = q.Overrides[j];
                if (o.MaxAmount <= 0)
                {
                    problems.Add(new ConfigProblem($"{at}.overrides[{j}].maxAmount", "must be > 0"));
                }

                if (o.Dimensions.Count == 0)
                {
                    problems.Add(new ConfigProblem($"{at}.overrides[{j}].dimensions", "must not be empty"));
                }
            }
        }

        if (string.IsNullOrWhiteSpace(p.RedisServerUrl))
        {
            problems.Add(new ConfigProblem("redisServerUrl", "must not be empty (host:port, e.g. redis.istio-system:6379)"));
        }
        else if (!TryParseServer(p.RedisServerUrl, out _))
        {
            problems.Add(new ConfigProblem("redisServerUrl", $"'{p.RedisServerUrl}' is not host:port (e.g. redis.istio-system:6379)"));
        }

        if (p.ConnectionPoolSize <= 0)
        {
            problems.Add(new ConfigProblem("connectionPoolSize", $"connection pool size of {p.ConnectionPoolSize} is invalid, must be > 0"));
        }
    }

    /// <inheritdoc/>
    protected override async ValueTask<IHandler> BuildAsync(RedisQuotaParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        var limits = p.Quotas.ToDictionary(q => q.Name, StringComparer.Ordinal);
        foreach (var (instance, template) in context.Instances)
        {
            if (string.Equals(template, "quota", StringComparison.OrdinalIgnoreCase) && !limits.ContainsKey(instance))
            {
                throw new InvalidOperationException($"{context.HandlerName}: did not find limit defined for quota {instance} (add it to quotas with name: {instance})");
            }
        }

        if (!TryParseServer(p.RedisServerUrl, out var endpoint))
        {
            throw new ArgumentException($"redisServerUrl '{p.RedisServerUrl}' is not host:port", nameof(context));
        }

        var size = (int)Math.Min(p.ConnectionPoolSize, 64);
        var connecting = Enumerable.Range(0, size).Select(_ => Connect(endpoint)).ToArray();
        ConnectionMultiplexer[] pool;
        try
        {
            pool = await Task.WhenAll(connecting).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisConnectionException or TimeoutException)
        {
            foreach (var t in connecting.Where(t => t.IsCompletedSuccessfully))
            {
                await t.Result.DisposeAsync().ConfigureAwait(false);
            }

            throw new InvalidOperationException($"{context.HandlerName}: could not create a connection to redis server {p.RedisServerUrl}: {ex.Message}", ex);
        }

        RedisQuotaLog.Connected(context.Logger, context.HandlerName, p.RedisServerUrl, pool.Length);
        return new RedisQuotaHandler(limits, pool, context.Time, context.Logger);
    }

    private static Task<ConnectionMultiplexer> Connect(string endpoint)
    {
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = true,
            ConnectTimeout = 5000,
            SyncTimeout = 5000,
            AsyncTimeout = 5000,
            ConnectRetry = 2,
        };
        options.EndPoints.Add(endpoint);
        return ConnectionMultiplexer.ConnectAsync(options);
    }

    // Istio takes host:port; a redis:// URL is accepted too.
    private static bool TryParseServer(string url, out string endpoint)
    {
        endpoint = url.Trim();
        if (endpoint.StartsWith("redis://", StringComparison.OrdinalIgnoreCase))
        {
            endpoint = endpoint["redis://".Length..].TrimEnd('/');
        }

        var colon = endpoint.LastIndexOf(':');
        return colon > 0 && colon < endpoint.Length - 1
            && int.TryParse(endpoint.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            && port is > 0 and < 65536;
    }

}

/// <summary>Istio's QuotaAlgorithm.</summary>
public enum RateLimitAlgorithm
{
    FixedWindow = 0,
    RollingWindow = 1,
}

public sealed class RedisQuotaParams
{
    public List<RedisQuotaLimit> Quotas { get; set; } = [];

    public string RedisServerUrl { get; set; } = "localhost:6379";

    public long ConnectionPoolSize { get; set; } = 10;
}

public sealed class RedisQuotaLimit
{
    public string Name { get; set; } = string.Empty;

    public long MaxAmount { get; set; }

    public TimeSpan ValidDuration { get; set; }

    public TimeSpan BucketDuration { get; set; }

    public RateLimitAlgorithm RateLimitAlgorithm { get; set; }

    public List<RedisQuotaOverride> Overrides { get; set; } = [];
}

public sealed class RedisQuotaOverride
{
    public Dictionary<string, string> Dimensions { get; set; } = [];

    public long MaxAmount { get; set; }
}

internal static partial class RedisQuotaLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Handler}: connected to redis {Server} with {Connections} connections")]
    public static partial void Connected(ILogger logger, string handler, string server, int connections);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "failed to run quota script for {Key}")]
    public static partial void ScriptFailed(ILogger logger, Exception exception, string key);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "quota {Key}: granted {Granted} of {Requested} (limit {Max})")]
    public static partial void Allocated(ILogger logger, string key, long granted, long requested, long max);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "redisquota has no limit for quota instance {Instance}")]
    public static partial void NoLimit(ILogger logger, string instance);
}
