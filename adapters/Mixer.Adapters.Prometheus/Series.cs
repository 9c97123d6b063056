using System.Collections.Concurrent;
using Mixer.Sdk;
using Prometheus;

namespace Mixer.Adapters.Prometheus;

/// <summary>
/// One label set of one metric: its label values as a report gave them (compared without making
/// strings) and its prometheus-net child. Retired when an expiry removes the child: whoever holds
/// it then finds (or makes) the current one.
/// </summary>
internal sealed class Series(AttributeValue[] key, ChildBase child, long touched)
{
    private int _retired;

    // Set when other values name the same labels (e.g. 200 and "200"): that series is the one the registry knows.
    private Series? _primary;

    public AttributeValue[] Key { get; } = key;

    public ChildBase Child { get; } = child;

    /// <summary>When a report last used it (TimeProvider timestamp), read by expiry sweeps.</summary>
    public long Touched = touched;

    public bool Retired => Volatile.Read(ref Primary._retired) != 0;

    /// <summary>The series whose use and retirement count for this one.</summary>
    public Series Primary => _primary ?? this;

    public bool Matches(ReadOnlySpan<AttributeValue> values)
    {
        var key = Key;
        if (key.Length != values.Length)
        {
            return false;
        }

        for (var i = 0; i < key.Length; i++)
        {
            if (!key[i].Equals(values[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Marks the series used now; false when it was retired (find the current one).</summary>
    public bool Touch(long now)
    {
        // A full fence between the touch and the check; a sweep does the opposite pair.
        var primary = Primary;
        Interlocked.Exchange(ref primary.Touched, now);
        return Volatile.Read(ref primary._retired) == 0;
    }

    internal Series SharedWith(Series primary)
    {
        _primary = primary.Primary;
        return this;
    }

    internal void Retire() => Interlocked.Exchange(ref _retired, 1);

    internal void Unretire() => Volatile.Write(ref _retired, 0);
}

/// <summary>
/// Every live series of one metric family, shared by all handlers that record into the family, so
/// that an expiry by one handler is seen by all. A series is retired and its child removed under
/// one lock that also covers making series; a report touches a series before checking it is not
/// retired, and a sweep retires before it reads the touch once more, so no count goes to a removed
/// child.
/// </summary>
internal sealed class SeriesRegistry
{
    private readonly ConcurrentDictionary<ChildBase, Series> _live = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _gate = new();

    /// <summary>The live series for <paramref name="labels"/> (made with <paramref name="child"/> if needed).</summary>
    public Series Open(string[] labels, ReadOnlySpan<AttributeValue> key, long now, Func<string[], ChildBase> child)
    {
        lock (_gate)
        {
            var c = child(labels);
            if (_live.TryGetValue(c, out var series))
            {
                Interlocked.Exchange(ref series.Touched, now);
                return series.Matches(key) ? series : new Series(key.ToArray(), c, now).SharedWith(series);
            }

            series = new Series(key.ToArray(), c, now);
            _live[c] = series;
            return series;
        }
    }

    /// <summary>Removes the series not used within <paramref name="expiry"/> (TimeProvider ticks) before <paramref name="now"/>; returns how many.</summary>
    public int Sweep(long now, long expiry)
    {
        var removed = 0;
        lock (_gate)
        {
            foreach (var (child, series) in _live)
            {
                var touched = Volatile.Read(ref series.Touched);
                if (now - touched < expiry)
                {
                    continue;
                }

                series.Retire();
                if (Volatile.Read(ref series.Touched) != touched)
                {
                    // A report took it between the two reads: it stays.
                    series.Unretire();
                    continue;
                }

                _live.TryRemove(child, out _);
                child.Remove();
                removed++;
            }
        }

        return removed;
    }
}
