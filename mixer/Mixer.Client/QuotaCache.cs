using System.Collections.Concurrent;
using Istio.Mixer.V1;
using QuotaResult = Istio.Mixer.V1.CheckResponse.Types.QuotaResult;

namespace Mixer.Client;

/// <summary>A quota a request spends: the quota instance's short name (as in a QuotaSpec) and the amount.</summary>
/// <param name="Name">The quota's name, e.g. <c>requestcount</c>.</param>
/// <param name="Amount">How much the request charges (a QuotaSpec rule's <c>charge</c>).</param>
public readonly record struct QuotaRequest(string Name, long Amount);

/// <summary>How Istio's client prefetches quota (its <c>QuotaPrefetch</c> defaults).</summary>
public sealed class QuotaPrefetchOptions
{
    /// <summary>The least a prefetch asks for (Istio: 10).</summary>
    public long MinPrefetchAmount { get; set; } = 10;

    /// <summary>Usage is predicted from the last window of this length (Istio: 1 s).</summary>
    public TimeSpan PredictWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>After Mixer granted nothing, deny locally for this long before asking again (Istio: 500 ms).</summary>
    public TimeSpan CloseWait { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Granted amounts are spent within at most this long, whatever Mixer's valid_duration (Istio: 60 s).</summary>
    public TimeSpan MaxExpiration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>At most this many allowances are kept (LRU, Istio: 10000).</summary>
    public int MaxEntries { get; set; } = 10000;
}

/// <summary>What the local allowance can say about a request's quota without asking Mixer.</summary>
public enum QuotaDecision
{
    /// <summary>Nothing known: ask Mixer.</summary>
    Unknown,

    /// <summary>Granted from the local allowance.</summary>
    Granted,

    /// <summary>Mixer recently granted nothing and the allowance is spent: deny without asking.</summary>
    Exhausted,
}

/// <summary>
/// Local quota allowances, as Istio's proxy keeps them: Mixer is asked for more than one request
/// needs (best effort, at least <see cref="QuotaPrefetchOptions.MinPrefetchAmount"/>, or what the
/// last window used), the surplus is spent locally until it runs low, and then topped up in the
/// background, so most requests never wait on Mixer. Allowances are keyed like the check cache, by
/// the referenced attributes of the quota's answer (so each set of quota dimensions has its own).
/// </summary>
public sealed class QuotaCache
{
    private readonly ConcurrentDictionary<string, ReferencedCache<Allowance>> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time;
    private long _hits;

    /// <summary>An empty cache with <paramref name="options"/> (Istio's defaults when null).</summary>
    public QuotaCache(QuotaPrefetchOptions? options = null, TimeProvider? time = null)
    {
        Options = options ?? new QuotaPrefetchOptions();
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The prefetch settings.</summary>
    public QuotaPrefetchOptions Options { get; }

    /// <summary>Quota decisions made locally (granted or exhausted) without Mixer.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>
    /// Spends <paramref name="quota"/> from the local allowance for requests like <paramref name="request"/>.
    /// When granted and the allowance runs low, <paramref name="prefetch"/> is the amount to top it
    /// up with (0: no top-up needed or one is already under way); call <see cref="CompletePrefetch"/> with Mixer's answer.
    /// </summary>
    public QuotaDecision TryTake(Attributes request, QuotaRequest quota, out long prefetch) => TryTake(new AttributeSource(request), quota, out prefetch);

    /// <summary>As <see cref="TryTake(Attributes, QuotaRequest, out long)"/>, for a request held as a record.</summary>
    public QuotaDecision TryTake(AttributeRecord request, QuotaRequest quota, out long prefetch) => TryTake(new AttributeSource(request), quota, out prefetch);

    internal QuotaDecision TryTake(AttributeSource request, QuotaRequest quota, out long prefetch)
    {
        prefetch = 0;
        if (!_byName.TryGetValue(quota.Name, out var cache) || !cache.TryGet(request, out var allowance))
        {
            return QuotaDecision.Unknown;
        }

        var decision = allowance.TryTake(quota.Amount, _time.GetTimestamp(), out prefetch);
        if (decision != QuotaDecision.Unknown)
        {
            Interlocked.Increment(ref _hits);
        }

        return decision;
    }

    /// <summary>What to ask Mixer for when a request needs <paramref name="amount"/> and nothing is held locally.</summary>
    public long AmountToAsk(long amount) => Math.Max(amount, Options.MinPrefetchAmount);

    /// <summary>
    /// Takes Mixer's answer to a request that needed <paramref name="needed"/> (and asked for
    /// <see cref="AmountToAsk"/>): true when the request may proceed; any surplus goes to the allowance.
    /// </summary>
    public bool Complete(Attributes request, string name, long needed, QuotaResult result)
    {
        var now = _time.GetTimestamp();
        var granted = result.GrantedAmount;
        var ok = granted >= needed;
        var allowance = AllowanceFor(request, name, result);
        if (allowance is not null)
        {
            if (ok)
            {
                allowance.Add(granted - needed, result.ValidDuration?.ToTimeSpan(), now);
            }
            else
            {
                allowance.Add(granted, result.ValidDuration?.ToTimeSpan(), now);
                allowance.Close(now);
            }
        }

        return ok;
    }

    /// <summary>Takes the answer to a background top-up started by <see cref="TryTake(Attributes, QuotaRequest, out long)"/> (null: the call failed).</summary>
    public void CompletePrefetch(Attributes request, string name, QuotaResult? result)
    {
        var now = _time.GetTimestamp();
        if (!_byName.TryGetValue(name, out var cache) || !cache.TryGet(request, out var allowance))
        {
            return;
        }

        if (result is not null)
        {
            allowance.Add(result.GrantedAmount, result.ValidDuration?.ToTimeSpan(), now);
            if (result.GrantedAmount <= 0)
            {
                allowance.Close(now);
            }
        }

        allowance.EndPrefetch();
    }

    private Allowance? AllowanceFor(Attributes request, string name, QuotaResult result)
    {
        var cache = _byName.GetOrAdd(name, _ => new ReferencedCache<Allowance>(Options.MaxEntries));
        if (cache.TryGet(request, out var existing))
        {
            return existing;
        }

        var allowance = new Allowance(Options, _time.TimestampFrequency);
        return cache.TryAdd(request, result.ReferencedAttributes, allowance) ? allowance : null;
    }

    /// <summary>Granted amounts not yet spent, each with its expiry, and the usage that predicts the next top-up.</summary>
    private sealed class Allowance(QuotaPrefetchOptions options, long frequency)
    {
        private readonly Lock _lock = new();
        private readonly Queue<Slot> _slots = new();
        private long _closedUntil;
        private bool _prefetching;
        private long _windowStart;
        private long _usedThisWindow;
        private long _usedLastWindow;

        public QuotaDecision TryTake(long amount, long now, out long prefetch)
        {
            prefetch = 0;
            lock (_lock)
            {
                Roll(now);
                var available = Available(now);
                if (available < amount)
                {
                    return now < _closedUntil ? QuotaDecision.Exhausted : QuotaDecision.Unknown;
                }

                Spend(amount, now);
                _usedThisWindow += amount;
                var predicted = Math.Max(options.MinPrefetchAmount, Math.Max(_usedLastWindow, _usedThisWindow));
                if (available - amount < predicted && !_prefetching && now >= _closedUntil)
                {
                    _prefetching = true;
                    prefetch = predicted;
                }

                return QuotaDecision.Granted;
            }
        }

        public void Add(long amount, TimeSpan? validDuration, long now)
        {
            if (amount <= 0)
            {
                return;
            }

            var life = validDuration is { } d && d > TimeSpan.Zero && d < options.MaxExpiration ? d : options.MaxExpiration;
            lock (_lock)
            {
                _slots.Enqueue(new Slot { Amount = amount, Expires = now + (long)(life.TotalSeconds * frequency) });
            }
        }

        public void Close(long now)
        {
            lock (_lock)
            {
                _closedUntil = now + (long)(options.CloseWait.TotalSeconds * frequency);
            }
        }

        public void EndPrefetch()
        {
            lock (_lock)
            {
                _prefetching = false;
            }
        }

        private void Roll(long now)
        {
            var window = (long)(options.PredictWindow.TotalSeconds * frequency);
            if (now - _windowStart >= window)
            {
                _usedLastWindow = now - _windowStart >= 2 * window ? 0 : _usedThisWindow;
                _usedThisWindow = 0;
                _windowStart = now;
            }
        }

        private long Available(long now)
        {
            while (_slots.TryPeek(out var s) && (s.Expires < now || s.Amount <= 0))
            {
                _slots.Dequeue();
            }

            long sum = 0;
            foreach (var s in _slots)
            {
                sum += s.Expires < now ? 0 : s.Amount;
            }

            return sum;
        }

        private void Spend(long amount, long now)
        {
            foreach (var s in _slots)
            {
                if (s.Expires < now)
                {
                    continue;
                }

                var take = Math.Min(s.Amount, amount);
                s.Amount -= take;
                amount -= take;
                if (amount == 0)
                {
                    break;
                }
            }
        }

        private sealed class Slot
        {
            public long Amount { get; set; }

            public long Expires { get; init; }
        }
    }
}
