using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Prometheus;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Adapters.Prometheus;

/// <summary>Records metric instances into the families of one handler config.</summary>
internal sealed class PrometheusHandler : IMetricHandler
{
    private static readonly string[] s_smallInts = Enumerable.Range(0, 1024).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    [ThreadStatic]
    private static string[]? t_labels;

    private readonly FrozenDictionary<string, Binding> _bindings;
    private readonly Func<ValueTask> _release;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly IAdapterCounter _dropped;
    private readonly Expiry? _expiry;
    private long _droppedCount;

    public PrometheusHandler(HandlerContext context, IReadOnlyList<Family> families, ExpirationPolicy? expiration, Func<ValueTask> release)
    {
        _name = context.HandlerName;
        _logger = context.Logger;
        _release = release;
        _dropped = context.Metrics.Counter("mixer_adapter_dropped_total", "Instances a handler dropped: its queue was full, or it could not use them.");
        _expiry = expiration is null ? null : new Expiry(expiration, context.Time, context.Logger, _name);
        var index = 0;
        _bindings = families.ToFrozenDictionary(f => f.Shape.InstanceName, f => new Binding(f, index++), StringComparer.Ordinal);
    }

    public long DroppedCount => Interlocked.Read(ref _droppedCount);

    public ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken)
    {
        List<string>? errors = null;

        // A report's instances mostly repeat their label values (delta-encoded sets differ in a
        // few attributes): remember each metric's last label set and child for this call.
        var last = instances.Count > _bindings.Count ? new LastChild[_bindings.Count] : null;
        for (var i = 0; i < instances.Count; i++)
        {
            var m = instances[i];
            string? error;
            if (!_bindings.TryGetValue(m.Name, out var b))
            {
                error = $"could not find metric info from adapter config for {m.Name}";
            }
            else if (!TryNumber(m.Value, out var value))
            {
                error = $"could not get value for metric {m.Name}: {m.Value.Type.ToIstioName()} value '{m.Value}' is not a number";
            }
            else if (b.Kind == MetricKind.Counter && !(value >= 0))
            {
                error = $"metric {m.Name}: a counter cannot be increased by {value.ToString(CultureInfo.InvariantCulture)}";
            }
            else
            {
                Record(b, m.Dimensions, value, last);
                continue;
            }

            (errors ??= []).Add(error);
        }

        if (errors is not null)
        {
            _dropped.Add(errors.Count);
            if (Interlocked.Add(ref _droppedCount, errors.Count) - errors.Count == 0)
            {
                PrometheusLog.RecordFailed(_logger, _name, errors[0]);
            }

            // As Istio: the report answers with what went wrong; everything else was recorded.
            throw new InvalidOperationException(string.Join("; ", errors.Distinct().Take(5)));
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _expiry?.Dispose();
        await _release().ConfigureAwait(false);
    }

    private void Record(Binding b, IReadOnlyDictionary<string, AttributeValue> dimensions, double value, LastChild[]? last)
    {
        var names = b.Dimensions;
        var labels = t_labels;
        if (labels is null || labels.Length < names.Length)
        {
            t_labels = labels = new string[Math.Max(16, names.Length)];
        }

        ref var previous = ref last is null ? ref s_noLast : ref last[b.Index];
        var same = previous.Child is not null;
        for (var j = 0; j < names.Length; j++)
        {
            var text = dimensions.TryGetValue(names[j], out var v) ? Text(v) : string.Empty;
            labels[j] = text;
            same = same && string.Equals(text, previous.Labels![j], StringComparison.Ordinal);
        }

        ChildBase child;
        if (same)
        {
            child = previous.Child!;
        }
        else
        {
            var values = new ReadOnlySpan<string>(labels, 0, names.Length);
            child = b.Kind switch
            {
                MetricKind.Counter => b.Counter!.WithLabels(values),
                MetricKind.Gauge => b.Gauge!.WithLabels(values),
                _ => b.Histogram!.WithLabels(values),
            };
            if (last is not null)
            {
                previous.Child = child;
                previous.Labels ??= new string[names.Length];
                values.CopyTo(previous.Labels);
            }
        }

        switch (b.Kind)
        {
            case MetricKind.Counter:
                ((Counter.Child)child).Inc(value);
                break;
            case MetricKind.Gauge:
                ((Gauge.Child)child).Set(value);
                break;
            default:
                ((Histogram.Child)child).Observe(value);
                break;
        }

        _expiry?.Touch(child);
    }

    /// <summary>Istio's promValue: numbers as they are, durations in seconds, strings parsed.</summary>
    private static bool TryNumber(AttributeValue v, out double value)
    {
        switch (v.Type)
        {
            case ValueType.Int64:
                value = v.AsInt64;
                return true;
            case ValueType.Double:
                value = v.AsDouble;
                return true;
            case ValueType.Duration:
                value = v.AsDurationNanos / 1e9;
                return true;
            case ValueType.String:
                return double.TryParse(v.AsString, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
            default:
                value = double.NaN;
                return false;
        }
    }

    /// <summary>A label value: strings as they are (no copy), small integers from a table, the rest in Istio's text forms.</summary>
    private static string Text(AttributeValue v) => v.Type switch
    {
        ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => v.AsString,
        ValueType.Int64 when v.AsInt64 is >= 0 and < 1024 => s_smallInts[v.AsInt64],
        _ => v.ToString(),
    };

    private static LastChild s_noLast;

    /// <summary>The label values a metric was last recorded with in this call, and the child they named.</summary>
    private struct LastChild
    {
        public string[]? Labels;
        public ChildBase? Child;
    }

    private sealed class Binding(Family family, int index)
    {
        public int Index { get; } = index;

        public MetricKind Kind { get; } = family.Shape.Kind;

        public string[] Dimensions { get; } = [.. family.Shape.Dimensions];

        public Counter? Counter { get; } = family.Collector as Counter;

        public Gauge? Gauge { get; } = family.Collector as Gauge;

        public Histogram? Histogram { get; } = family.Collector as Histogram;
    }

    /// <summary>
    /// Istio's metricsExpirationPolicy: label sets not updated for the expiry duration are removed
    /// from the endpoint (and start again from zero if they come back).
    /// </summary>
    private sealed class Expiry : IDisposable
    {
        private readonly ConcurrentDictionary<ChildBase, StrongBox<long>> _seen = new(ReferenceEqualityComparer.Instance);
        private readonly TimeProvider _time;
        private readonly long _expiry;
        private readonly System.Threading.ITimer _timer;
        private readonly ILogger _logger;
        private readonly string _handler;

        public Expiry(ExpirationPolicy policy, TimeProvider time, ILogger logger, string handler)
        {
            _time = time;
            _logger = logger;
            _handler = handler;
            _expiry = (long)(policy.MetricsExpiryDuration.TotalSeconds * time.TimestampFrequency);
            var every = policy.ExpiryCheckIntervalDuration > TimeSpan.Zero ? policy.ExpiryCheckIntervalDuration : policy.MetricsExpiryDuration / 2;
            _timer = time.CreateTimer(_ => Sweep(), null, every, every);
        }

        public void Touch(ChildBase child)
        {
            var now = _time.GetTimestamp();
            if (_seen.TryGetValue(child, out var box))
            {
                Volatile.Write(ref box.Value, now);
            }
            else
            {
                _seen.TryAdd(child, new StrongBox<long>(now));
            }
        }

        public void Dispose() => _timer.Dispose();

        private void Sweep()
        {
            var now = _time.GetTimestamp();
            var removed = 0;
            foreach (var (child, box) in _seen)
            {
                if (now - Volatile.Read(ref box.Value) >= _expiry && _seen.TryRemove(child, out _))
                {
                    child.Remove();
                    removed++;
                }
            }

            if (removed > 0)
            {
                PrometheusLog.Expired(_logger, _handler, removed);
            }
        }
    }
}
