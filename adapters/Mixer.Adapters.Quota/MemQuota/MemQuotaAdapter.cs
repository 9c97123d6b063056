using Mixer.Sdk.Adapters;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Quota;

/// <summary>
/// The <c>memquota</c> adapter (Istio 1.0 <c>adapter.memquota.config.Params</c>): quotas counted in
/// this process's memory. A quota with a <c>validDuration</c> is a rate limit over a rolling window
/// (10 ticks a second); one without is an allocation (a counter that negative amounts give back).
/// Each quota is keyed by its instance's fully qualified name and dimensions; the first override
/// whose dimensions all match sets another limit. Retries with the same deduplication id within
/// <c>minDeduplicationDuration</c> (1 to 2 times it) get the first answer again.
/// </summary>
/// <remarks>The counts are per process: several mixs replicas need <c>redisquota</c> for one limit.</remarks>
public sealed class MemQuotaAdapter : Adapter<MemQuotaParams>
{
    /// <inheritdoc/>
    public override AdapterInfo Info { get; } = new("memquota", "Volatile memory-based quota tracking", ["quota"]);

    /// <inheritdoc/>
    protected override void Validate(MemQuotaParams p, ICollection<ConfigProblem> problems)
    {
        if (p.MinDeduplicationDuration <= TimeSpan.Zero)
        {
            problems.Add(new ConfigProblem("minDeduplicationDuration", $"deduplication window of {Mixer.Sdk.GoDuration.Format(p.MinDeduplicationDuration)} is invalid, must be > 0"));
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

            if (q.ValidDuration < TimeSpan.Zero)
            {
                problems.Add(new ConfigProblem($"{at}.validDuration", "must be >= 0 (0 makes an allocation quota)"));
            }

            for (var j = 0; j < q.Overrides.Count; j++)
            {
                var o = q.Overrides[j];
                if (o.MaxAmount < 0)
                {
                    problems.Add(new ConfigProblem($"{at}.overrides[{j}].maxAmount", "must be >= 0"));
                }

                if (o.ValidDuration < TimeSpan.Zero)
                {
                    problems.Add(new ConfigProblem($"{at}.overrides[{j}].validDuration", "must be >= 0"));
                }
            }
        }
    }

    /// <inheritdoc/>
    protected override ValueTask<IHandler> BuildAsync(MemQuotaParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        var limits = p.Quotas.ToDictionary(q => q.Name, StringComparer.Ordinal);
        foreach (var (instance, template) in context.Instances)
        {
            if (string.Equals(template, "quota", StringComparison.OrdinalIgnoreCase) && !limits.ContainsKey(instance))
            {
                throw new InvalidOperationException($"{context.HandlerName}: did not find limit defined for quota {instance} (add it to quotas with name: {instance})");
            }
        }

        var handler = new MemQuotaHandler(limits, p.MinDeduplicationDuration, context.Time, context.Logger);
        MemQuotaLog.Built(context.Logger, context.HandlerName, limits.Count);
        return ValueTask.FromResult<IHandler>(handler);
    }
}

public sealed class MemQuotaParams
{
    public List<MemQuotaLimit> Quotas { get; set; } = [];

    public TimeSpan MinDeduplicationDuration { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class MemQuotaLimit
{
    public string Name { get; set; } = string.Empty;

    public long MaxAmount { get; set; }

    public TimeSpan ValidDuration { get; set; }

    public List<MemQuotaOverride> Overrides { get; set; } = [];
}

public sealed class MemQuotaOverride
{
    public Dictionary<string, string> Dimensions { get; set; } = [];

    public long MaxAmount { get; set; }

    public TimeSpan ValidDuration { get; set; }
}

internal static partial class MemQuotaLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "memquota handler {Handler} built with {Count} quotas")]
    public static partial void Built(ILogger logger, string handler, int count);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "quota {Key}: granted {Granted} of {Requested}")]
    public static partial void Allocated(ILogger logger, string key, long granted, long requested);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "quota request satisfied through deduplication: id {DedupId}, amount {Amount}")]
    public static partial void Deduplicated(ILogger logger, string dedupId, long amount);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "memquota has no limit for quota instance {Instance}")]
    public static partial void NoLimit(ILogger logger, string instance);
}
