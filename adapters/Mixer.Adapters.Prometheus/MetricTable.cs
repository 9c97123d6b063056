using Prometheus;

namespace Mixer.Adapters.Prometheus;

/// <summary>
/// One exported metric: its collector in a registry of its own, so that a redefinition can replace
/// it on the scrape endpoint without touching any other metric.
/// </summary>
internal sealed class Family
{
    public Family(MetricShape shape)
    {
        Shape = shape;
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);

        // No exemplars: looking for a trace context on every observation costs more than the observation.
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = static (_, _) => Exemplar.None };
        var labels = shape.LabelNames.ToArray();
        Collector = shape.Kind switch
        {
            MetricKind.Counter => factory.CreateCounter(shape.ExportedName, shape.Help, labels),
            MetricKind.Gauge => factory.CreateGauge(shape.ExportedName, shape.Help, labels),
            _ => factory.CreateHistogram(shape.ExportedName, shape.Help, new HistogramConfiguration { LabelNames = labels, Buckets = shape.Buckets }),
        };
    }

    public MetricShape Shape { get; }

    public CollectorRegistry Registry { get; }

    public Collector Collector { get; }

    /// <summary>The label sets recorded, shared by every handler recording into this family.</summary>
    public SeriesRegistry Series { get; } = new();

    /// <summary>Handlers using this family, by name, with how many live generations of each (guarded by the table's lock).</summary>
    public Dictionary<string, int> Holders { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Every metric the adapter exports, by exported name, shared by all prometheus handlers (Istio
/// served them all from one registry on one port). A handler rebuilt with the same definition
/// keeps the same collector, so counts carry across config changes; a handler that redefines one
/// of its own metrics gets a fresh collector, which replaces the old one on the endpoint; a second
/// handler defining a name differently is refused, since both cannot be exported.
/// </summary>
internal sealed class MetricTable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Family> _families = new(StringComparer.Ordinal);

    /// <summary>Takes the families for <paramref name="shapes"/> on behalf of <paramref name="handler"/>, or throws naming the conflict.</summary>
    public IReadOnlyList<Family> Acquire(string handler, IReadOnlyList<MetricShape> shapes)
    {
        lock (_lock)
        {
            foreach (var s in shapes)
            {
                if (_families.TryGetValue(s.ExportedName, out var f) && f.Shape.Signature != s.Signature && f.Holders.Keys.Any(h => h != handler))
                {
                    throw new InvalidOperationException(
                        $"metric '{s.ExportedName}' is already exported by handler '{f.Holders.Keys.First(h => h != handler)}' with other labels, kind or buckets; give it another name or namespace");
                }
            }

            var result = new List<Family>(shapes.Count);
            foreach (var s in shapes)
            {
                if (!_families.TryGetValue(s.ExportedName, out var f) || f.Shape.Signature != s.Signature)
                {
                    f = new Family(s);
                    _families[s.ExportedName] = f;
                }

                f.Holders[handler] = f.Holders.GetValueOrDefault(handler) + 1;
                result.Add(f);
            }

            return result;
        }
    }

    /// <summary>
    /// Gives the families back. A family is unexported when its last holder lets go; a handler's
    /// newer generation (built before the old one closes) still holds the ones it shares.
    /// </summary>
    public void Release(string handler, IReadOnlyList<Family> families)
    {
        lock (_lock)
        {
            foreach (var f in families)
            {
                if (f.Holders.TryGetValue(handler, out var n) && n > 1)
                {
                    f.Holders[handler] = n - 1;
                }
                else
                {
                    f.Holders.Remove(handler);
                }

                if (f.Holders.Count == 0 && _families.TryGetValue(f.Shape.ExportedName, out var current) && ReferenceEquals(current, f))
                {
                    _families.Remove(f.Shape.ExportedName);
                }
            }
        }
    }

    /// <summary>The families being exported, by name.</summary>
    public IReadOnlyList<Family> Exported()
    {
        lock (_lock)
        {
            return _families.Values.OrderBy(f => f.Shape.ExportedName, StringComparer.Ordinal).ToList();
        }
    }
}
