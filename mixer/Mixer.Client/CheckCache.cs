using Istio.Mixer.V1;
using PreconditionResult = Istio.Mixer.V1.CheckResponse.Types.PreconditionResult;

namespace Mixer.Client;

/// <summary>A Check answer as the cache holds it: the status and the route directive.</summary>
/// <param name="Status">OK, or the code and message of the denial.</param>
/// <param name="RouteDirective">Header operations or a direct response to apply, or null.</param>
public sealed record CheckVerdict(Google.Rpc.Status Status, RouteDirective? RouteDirective)
{
    /// <summary>OK with nothing to apply.</summary>
    public static CheckVerdict Ok { get; } = new(new Google.Rpc.Status(), null);

    /// <summary>Whether the status is OK.</summary>
    public bool IsOk => Status.Code == 0;
}

/// <summary>
/// The client-side check cache of Istio's proxy: a Check answer is reused for every later request
/// that agrees with the first on the attributes the answer's <c>referenced_attributes</c> name
/// (EXACT: same value, for a map the same value under each referenced key; ABSENCE: still absent),
/// for at most <c>valid_duration</c> and <c>valid_use_count</c> uses. Bounded (LRU, Istio's default
/// 10000 entries). Thread-safe.
/// </summary>
/// <remarks>
/// As Istio's proxy: an absent <c>valid_duration</c> never expires by time; a use count of 0 is not
/// cacheable; a negative one allows unlimited uses until the duration runs out; an answer with a
/// REGEX condition, or an index that names no word, is not cached.
/// </remarks>
public sealed class CheckCache
{
    /// <summary>Istio's default size (<c>CheckOptions.num_entries</c>).</summary>
    public const int DefaultMaxEntries = 10000;

    private readonly ReferencedCache<Entry> _cache;
    private readonly TimeProvider _time;
    private long _hits;
    private long _misses;

    /// <summary>A cache of at most <paramref name="maxEntries"/> answers, timed by <paramref name="time"/> (the system clock by default).</summary>
    public CheckCache(int maxEntries = DefaultMaxEntries, TimeProvider? time = null)
    {
        _cache = new ReferencedCache<Entry>(maxEntries);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How many answers are held.</summary>
    public int Count => _cache.Count;

    /// <summary>Lookups answered from the cache.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Lookups that found nothing usable.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Answers pushed out because the cache was full.</summary>
    public long Evictions => _cache.Evictions;

    /// <summary>The cached answer for <paramref name="request"/>, spending one of its uses.</summary>
    public bool TryGet(Attributes request, out CheckVerdict verdict) => TryGet(request, out verdict, out _);

    /// <summary>
    /// As <see cref="TryGet(Attributes, out CheckVerdict)"/>; <paramref name="refresh"/> is true (once per
    /// entry) when the answer is nearly spent (a tenth of its uses or of its duration left), the moment
    /// to ask Mixer again in the background while the cache still serves it.
    /// </summary>
    public bool TryGet(Attributes request, out CheckVerdict verdict, out bool refresh) => TryGet(new AttributeSource(request), out verdict, out refresh, out _);

    /// <summary>As <see cref="TryGet(Attributes, out CheckVerdict)"/>, for a request held as a record (it finds what its message form finds).</summary>
    public bool TryGet(AttributeRecord request, out CheckVerdict verdict) => TryGet(new AttributeSource(request), out verdict, out _, out _);

    /// <summary>As the public overloads; <paramref name="results"/> are the entry's answers built once, for the client's hit path.</summary>
    internal bool TryGet(AttributeSource request, out CheckVerdict verdict, out bool refresh, out CachedResults? results)
    {
        refresh = false;
        results = null;
        if (_cache.TryGet(request, out var entry))
        {
            if (entry.TryUse(_time.GetTimestamp(), out refresh))
            {
                Interlocked.Increment(ref _hits);
                verdict = entry.Verdict;
                results = entry.Results;
                return true;
            }

            _cache.Remove(request, entry);
        }

        Interlocked.Increment(ref _misses);
        verdict = null!;
        return false;
    }

    /// <summary>
    /// Remembers <paramref name="precondition"/> as the answer for requests like <paramref name="request"/>.
    /// False when it may not be cached (no uses, already expired, REGEX, an unknown word).
    /// </summary>
    public bool TryAdd(Attributes request, PreconditionResult precondition)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(precondition);
        if (precondition.ValidUseCount == 0)
        {
            return false;
        }

        var now = _time.GetTimestamp();
        long expires = long.MaxValue;
        long refreshAt = long.MaxValue;
        if (precondition.ValidDuration is { } d)
        {
            var span = d.ToTimeSpan();
            if (span <= TimeSpan.Zero)
            {
                return false;
            }

            var ticks = (long)(span.TotalSeconds * _time.TimestampFrequency);
            expires = now + ticks;
            refreshAt = expires - (ticks / 10);
        }

        var verdict = new CheckVerdict(precondition.Status ?? new Google.Rpc.Status(), precondition.RouteDirective);
        var uses = precondition.ValidUseCount;
        return _cache.TryAdd(request, precondition.ReferencedAttributes, new Entry(verdict, expires, refreshAt, uses, uses > 0 ? Math.Max(1, uses / 10) : -1));
    }

    private sealed class Entry(CheckVerdict verdict, long expires, long refreshAt, int uses, int refreshAtUses)
    {
        private int _uses = uses;
        private int _refreshing;

        public CheckVerdict Verdict { get; } = verdict;

        public CachedResults Results { get; } = new(verdict);

        public bool TryUse(long now, out bool refresh)
        {
            refresh = false;
            if (now > expires)
            {
                return false;
            }

            while (true)
            {
                var left = Volatile.Read(ref _uses);
                if (left == 0)
                {
                    return false;
                }

                if (left < 0 || Interlocked.CompareExchange(ref _uses, left - 1, left) == left)
                {
                    var low = now >= refreshAt || (left > 0 && left - 1 <= refreshAtUses);
                    refresh = low && Interlocked.Exchange(ref _refreshing, 1) == 0;
                    return true;
                }
            }
        }
    }
}

/// <summary>
/// The <see cref="CheckResult"/>s a cached answer gives, built on first use and then shared by every
/// request it serves (the check-cache hit path then allocates nothing for its answer).
/// </summary>
internal sealed class CachedResults(CheckVerdict verdict)
{
    private CheckResult? _hit;
    private CheckResult? _hitWithQuota;
    private CheckResult? _denied;

    public CheckResult Hit(bool quotaCacheHit) => quotaCacheHit
        ? _hitWithQuota ??= new CheckResult(verdict.Status, verdict.RouteDirective, true, true, false)
        : _hit ??= new CheckResult(verdict.Status, verdict.RouteDirective, true, false, false);

    public CheckResult Denied => _denied ??= new CheckResult(verdict.Status, null, true, false, false);
}
