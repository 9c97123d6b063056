using System.Text;
using Mixer.Runtime.Dispatch;
using Mixer.Sdk;
using Prometheus;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Server.Api;

/// <summary>
/// An exact server-side cache of Check answers (<c>--numCheckCacheEntries</c>, off by default). An
/// answer is reused only for a request that agrees with the one that produced it on every attribute
/// and map key the dispatch read: the same values where they were present (map values included),
/// absent where they were absent. It never outlives the config generation it was computed on, its
/// valid_duration, or its valid_use_count. Answers that depended on a whole string map are not
/// cached, since the wire can name a map's keys but not "exactly this map".
/// </summary>
/// <remarks>
/// Istio 1.0.6's own cache keyed on a hash that skipped durations, IP addresses and every string
/// map value, so a request differing only in <c>source.labels["app"]</c> got another's answer.
/// Here the key is the referenced values themselves, written out in full.
/// </remarks>
internal sealed class CheckCache(int capacity, TimeProvider time)
{
    /// <summary>Whether the cache is on (<c>--numCheckCacheEntries</c> &gt; 0).</summary>
    public bool Enabled { get; } = capacity > 0;

    private const int MaxShapes = 64;

    private static readonly Counter s_lookups = Metrics.CreateCounter(
        "mixer_checkcache_lookups_total", "Server-side check cache lookups, by result.", "result");

    private static readonly Counter.Child s_hits = s_lookups.WithLabels("hit");
    private static readonly Counter.Child s_misses = s_lookups.WithLabels("miss");

    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _lru = new();
    private readonly List<AttributeReference[]> _shapes = [];
    private long _generation = -1;

    /// <summary>A cached answer and the lookups it depended on (to answer referenced_attributes again).</summary>
    public sealed record Hit(CheckOutcome Outcome, IReadOnlyList<AttributeReference> References);

    /// <summary>The answer cached for a request like <paramref name="bag"/> under config <paramref name="generation"/>, or null.</summary>
    public Hit? Lookup(ProtoBag bag, long generation)
    {
        AttributeReference[][] shapes;
        lock (_lock)
        {
            if (generation != _generation || _shapes.Count == 0)
            {
                s_misses.Inc();
                return null;
            }

            shapes = [.. _shapes];
        }

        // Keys are computed outside the lock, reading the bag without recording.
        var tracker = bag.Tracker;
        bag.Tracker = null;
        try
        {
            var now = time.GetUtcNow();
            foreach (var shape in shapes)
            {
                if (Key(shape, bag) is not { } key)
                {
                    continue;
                }

                lock (_lock)
                {
                    if (generation != _generation || !_entries.TryGetValue(key, out var node))
                    {
                        continue;
                    }

                    var entry = node.Value;
                    if (now >= entry.Expires || entry.UsesLeft <= 0)
                    {
                        Remove(node);
                        continue;
                    }

                    entry.UsesLeft--;
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                    s_hits.Inc();
                    var outcome = entry.Outcome with { ValidDuration = entry.Expires - now, ValidUseCount = entry.UsesLeft + 1 };
                    return new Hit(outcome, entry.References);
                }
            }
        }
        finally
        {
            bag.Tracker = tracker;
        }

        s_misses.Inc();
        return null;
    }

    /// <summary>Remembers <paramref name="outcome"/> for requests that agree with <paramref name="bag"/> on <paramref name="tracker"/>'s record.</summary>
    public void Store(ProtoBag bag, ReferenceTracker tracker, CheckOutcome outcome, long generation)
    {
        if (tracker.WholeMaps.Count > 0 || outcome.ValidUseCount <= 0 || outcome.ValidDuration <= TimeSpan.Zero)
        {
            return;
        }

        var shape = Distinct(tracker.References);
        var saved = bag.Tracker;
        bag.Tracker = null;
        string? key;
        try
        {
            key = Key(shape, bag);
        }
        finally
        {
            bag.Tracker = saved;
        }

        if (key is null)
        {
            return;
        }

        var entry = new Entry(key, outcome, shape, time.GetUtcNow() + outcome.ValidDuration, outcome.ValidUseCount);
        lock (_lock)
        {
            if (generation < _generation)
            {
                // Computed on a config that has since been replaced.
                return;
            }

            if (generation > _generation)
            {
                // A new config: nothing computed on the old one may answer.
                _entries.Clear();
                _lru.Clear();
                _shapes.Clear();
                _generation = generation;
            }

            if (!_shapes.Any(s => SameShape(s, shape)))
            {
                if (_shapes.Count == MaxShapes)
                {
                    return;
                }

                _shapes.Add(shape);
            }

            if (_entries.TryGetValue(key, out var old))
            {
                Remove(old);
            }

            _entries[key] = _lru.AddFirst(entry);
            while (_entries.Count > capacity && _lru.Last is { } last)
            {
                Remove(last);
            }
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _entries.Remove(node.Value.Key);
    }

    /// <summary>
    /// The exact key of <paramref name="bag"/> under <paramref name="shape"/>: every referenced value,
    /// typed, length-prefixed; null when the bag does not fit the shape (present where it was
    /// absent, or the other way round).
    /// </summary>
    private static string? Key(AttributeReference[] shape, ProtoBag bag)
    {
        var b = new StringBuilder(256);
        foreach (var r in shape)
        {
            Append(b, r.Name);
            if (r.MapKey is null)
            {
                var present = bag.TryGet(r.Name, out var v);
                if (present != (r.Kind == ReferenceKind.Exact))
                {
                    return null;
                }

                if (present)
                {
                    b.Append((int)v.Type).Append(':');
                    Append(b, v.Type == ValueType.StringMap ? string.Empty : v.ToString());
                }
                else
                {
                    b.Append('-');
                }
            }
            else
            {
                Append(b, r.MapKey);
                var present = bag.TryGetMapValue(AttributeName.Of(r.Name), r.MapKey, out var value);
                if (present != (r.Kind == ReferenceKind.Exact))
                {
                    return null;
                }

                if (present)
                {
                    Append(b, value);
                }
                else
                {
                    b.Append('-');
                }
            }
        }

        return b.ToString();
    }

    private static void Append(StringBuilder b, string s) => b.Append(s.Length).Append(':').Append(s).Append(';');

    /// <summary>The record without repeats, in a canonical order (so equal records make one shape).</summary>
    private static AttributeReference[] Distinct(IReadOnlyList<AttributeReference> references) =>
        references.Distinct()
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .ThenBy(r => r.MapKey ?? string.Empty, StringComparer.Ordinal)
            .ThenBy(r => r.Kind)
            .ToArray();

    private static bool SameShape(AttributeReference[] a, AttributeReference[] b) => a.AsSpan().SequenceEqual(b);

    private sealed class Entry(string key, CheckOutcome outcome, AttributeReference[] references, DateTimeOffset expires, int uses)
    {
        public string Key { get; } = key;

        public CheckOutcome Outcome { get; } = outcome;

        public AttributeReference[] References { get; } = references;

        public DateTimeOffset Expires { get; } = expires;

        public int UsesLeft { get; set; } = uses;
    }
}
