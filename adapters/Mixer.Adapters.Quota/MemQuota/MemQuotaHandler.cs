using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Quota;

internal sealed class MemQuotaHandler : IQuotaHandler
{
    // Istio quantises time into 10 ticks a second; a window of d seconds has ceil(d) * 10 ticks.
    internal const int TicksPerSecond = 10;
    private const long TimeSpanTicksPerQuotaTick = TimeSpan.TicksPerSecond / TicksPerSecond;

    private readonly Dictionary<string, MemQuotaLimit> _limits;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _cells = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RollingWindow> _windows = new(StringComparer.Ordinal);
    private readonly Deduplicator _dedup;

    public MemQuotaHandler(Dictionary<string, MemQuotaLimit> limits, TimeSpan dedupWindow, TimeProvider time, ILogger logger)
    {
        _limits = limits;
        _time = time;
        _logger = logger;
        _dedup = new Deduplicator(dedupWindow, time.GetUtcNow());
    }

    public ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken)
    {
        if (!_limits.TryGetValue(instance.Name, out var quota))
        {
            MemQuotaLog.NoLimit(_logger, instance.Name);
            return ValueTask.FromResult(new QuotaResult(0, TimeSpan.Zero, StatusCodes.Internal, $"memquota: no limit configured for quota {instance.Name}"));
        }

        if (request.Amount == 0)
        {
            return ValueTask.FromResult(default(QuotaResult));
        }

        var (max, validDuration) = Limit(quota, instance);
        var key = QuotaKeys.Make(instance.Name, instance.Dimensions);
        QuotaResult result;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (_dedup.TryGet(request.DeduplicationId, now, out var earlier))
            {
                MemQuotaLog.Deduplicated(_logger, request.DeduplicationId, earlier.GrantedAmount);
                return ValueTask.FromResult(earlier);
            }

            var tick = (now - DateTimeOffset.UnixEpoch).Ticks / TimeSpanTicksPerQuotaTick;
            result = request.Amount > 0
                ? Allocate(key, max, validDuration, request, tick)
                : Free(key, max, validDuration, -request.Amount, tick);
            _dedup.Remember(request.DeduplicationId, result, now);
        }

        MemQuotaLog.Allocated(_logger, key, result.GrantedAmount, request.Amount);
        return ValueTask.FromResult(result);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static (long Max, TimeSpan ValidDuration) Limit(MemQuotaLimit quota, QuotaInstance instance)
    {
        foreach (var o in quota.Overrides)
        {
            if (QuotaKeys.Matches(o.Dimensions, instance.Dimensions))
            {
                return (o.MaxAmount, o.ValidDuration);
            }
        }

        return (quota.MaxAmount, quota.ValidDuration);
    }

    private QuotaResult Allocate(string key, long max, TimeSpan validDuration, QuotaRequest request, long tick)
    {
        var amount = request.Amount;
        if (validDuration == TimeSpan.Zero)
        {
            // Allocation quota: a plain counter, never expires.
            _cells.TryGetValue(key, out var inUse);
            if (amount > max - inUse)
            {
                if (!request.BestEffort)
                {
                    return default;
                }

                amount = Math.Max(0, max - inUse);
            }

            _cells[key] = inUse + amount;
            return new QuotaResult(amount, TimeSpan.Zero);
        }

        if (!_windows.TryGetValue(key, out var window))
        {
            var seconds = (int)Math.Ceiling(validDuration.TotalSeconds);
            window = new RollingWindow(max, seconds * TicksPerSecond);
            _windows[key] = window;
        }

        if (!window.TryAllocate(amount, tick))
        {
            if (!request.BestEffort)
            {
                return default;
            }

            amount = Math.Max(0, window.Available);
            window.TryAllocate(amount, tick);
        }

        return new QuotaResult(amount, validDuration);
    }

    private QuotaResult Free(string key, long max, TimeSpan validDuration, long amount, long tick)
    {
        if (validDuration == TimeSpan.Zero)
        {
            if (!_cells.TryGetValue(key, out var inUse))
            {
                return default;
            }

            if (amount >= inUse)
            {
                _cells.Remove(key);
                return new QuotaResult(inUse, TimeSpan.Zero);
            }

            _cells[key] = inUse - amount;
            return new QuotaResult(amount, TimeSpan.Zero);
        }

        // Giving back rate-limit units is racy by nature (they may land in another window); Istio allows it.
        if (!_windows.TryGetValue(key, out var window))
        {
            return default;
        }

        var released = window.Release(amount, tick);
        if (window.Available == max)
        {
            _windows.Remove(key);
        }

        return new QuotaResult(released, TimeSpan.Zero);
    }

    /// <summary>
    /// Answers by deduplication id, kept in two maps that swap every window: an answer lives for
    /// one to two windows, as Istio's. Swapping is lazy (on use), so the handler needs no timer.
    /// Not thread-safe; the handler's lock covers it.
    /// </summary>
    private sealed class Deduplicator(TimeSpan window, DateTimeOffset start)
    {
        private Dictionary<string, (QuotaResult Result, DateTimeOffset Expires)> _recent = new(StringComparer.Ordinal);
        private Dictionary<string, (QuotaResult Result, DateTimeOffset Expires)> _old = new(StringComparer.Ordinal);
        private DateTimeOffset _nextSwap = start + window;

        public bool TryGet(string id, DateTimeOffset now, out QuotaResult result)
        {
            Reap(now);
            result = default;

            // No id: the caller gave nothing to recognise a retry by.
            if (string.IsNullOrEmpty(id))
            {
                return false;
            }

            if (!_recent.TryGetValue(id, out var entry) && !_old.TryGetValue(id, out entry))
            {
                return false;
            }

            var left = entry.Expires - now;
            result = entry.Result with { ValidDuration = left > TimeSpan.Zero ? left : TimeSpan.Zero };
            return true;
        }

        public void Remember(string id, QuotaResult result, DateTimeOffset now)
        {
            if (!string.IsNullOrEmpty(id))
            {
                _recent[id] = (result, now + result.ValidDuration);
            }
        }

        private void Reap(DateTimeOffset now)
        {
            if (now < _nextSwap)
            {
                return;
            }

            // One swap per elapsed window; after two, nothing remembered is young enough to keep.
            var elapsed = (int)Math.Min(2, 1 + ((now - _nextSwap).Ticks / window.Ticks));
            for (var i = 0; i < elapsed; i++)
            {
                (_old, _recent) = (_recent, _old);
                _recent.Clear();
            }

            _nextSwap += TimeSpan.FromTicks(window.Ticks * (1 + ((now - _nextSwap).Ticks / window.Ticks)));
        }
    }
}
