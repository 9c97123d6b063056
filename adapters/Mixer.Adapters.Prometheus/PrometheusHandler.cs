using System.Collections.Frozen;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Prometheus;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Adapters.Prometheus;

/// <summary>
/// Records metric instances into the families of one handler config. Both the one-object-per-instance
/// call and the batch call land in the same recording: per metric, the label values of a row name
/// a series (a prometheus-net child), found without building label strings in the common cases —
/// the same values as the metric's previous row in this call, or a hit in a small per-metric cache
/// that lives across reports. Counter increments of consecutive rows of one series are added up
/// before they reach the child.
/// </summary>
internal sealed class PrometheusHandler : IMetricBatchHandler
{
    private static readonly string[] s_smallInts = Enumerable.Range(0, 1024).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    [ThreadStatic]
    private static AttributeValue[]? t_dimensions;

    private readonly FrozenDictionary<string, Binding> _bindings;
    private readonly Binding[] _byId;
    private readonly Func<ValueTask> _release;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly IAdapterCounter _dropped;
    private readonly Expiry? _expiry;
    private readonly TimeProvider _time;
    private long _droppedCount;

    public PrometheusHandler(HandlerContext context, IReadOnlyList<Family> families, ExpirationPolicy? expiration, Func<ValueTask> release)
    {
        _name = context.HandlerName;
        _logger = context.Logger;
        _release = release;
        _time = context.Time;
        _dropped = context.Metrics.Counter("mixer_adapter_dropped_total", "Instances a handler dropped: its queue was full, or it could not use them.");
        _expiry = expiration is null ? null : new Expiry(expiration, families, context.Time, context.Logger, _name);
        _byId = families.Select((f, i) => new Binding(f, i)).ToArray();
        _bindings = _byId.ToFrozenDictionary(b => b.InstanceName, StringComparer.Ordinal);
    }

    public long DroppedCount => Interlocked.Read(ref _droppedCount);

    public MetricLayout? GetLayout(string instanceName) =>
        _bindings.TryGetValue(instanceName, out var b) ? new MetricLayout(b.Index, b.Dimensions) : null;

    public ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken)
    {
        var recorder = new Recorder(this);
        List<string>? errors = null;
        for (var i = 0; i < instances.Count; i++)
        {
            var m = instances[i];
            if (!_bindings.TryGetValue(m.Name, out var b))
            {
                (errors ??= []).Add($"could not find metric info from adapter config for {m.Name}");
                continue;
            }

            // The instance's dimensions in label order; one it lacks is an empty label, as in Istio.
            var names = b.Dimensions;
            var dimensions = t_dimensions is { } d && d.Length >= names.Length ? d : t_dimensions = new AttributeValue[Math.Max(16, names.Length)];
            for (var j = 0; j < names.Length; j++)
            {
                dimensions[j] = m.Dimensions.TryGetValue(names[j], out var v) ? v : default;
            }

            if (recorder.Record(b, m.Name, m.Value, dimensions.AsSpan(0, names.Length)) is { } error)
            {
                (errors ??= []).Add(error);
            }
        }

        recorder.Flush();
        return Done(errors);
    }

    public ValueTask HandleMetricBatchAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var recorder = new Recorder(this);
        List<string>? errors = null;
        for (var i = 0; i < batch.Count; i++)
        {
            var id = batch.MetricId(i);
            if ((uint)id >= (uint)_byId.Length)
            {
                (errors ??= []).Add($"could not find metric info from adapter config for {batch.InstanceName(i)}");
                continue;
            }

            var b = _byId[id];
            var dimensions = batch.Dimensions(i);
            if (dimensions.Length != b.Dimensions.Length)
            {
                (errors ??= []).Add($"metric {batch.InstanceName(i)}: {dimensions.Length} dimension values given, its layout has {b.Dimensions.Length}");
                continue;
            }

            if (recorder.Record(b, batch.InstanceName(i), batch.Value(i), dimensions) is { } error)
            {
                (errors ??= []).Add(error);
            }
        }

        recorder.Flush();
        return Done(errors);
    }

    public async ValueTask DisposeAsync()
    {
        _expiry?.Dispose();
        await _release().ConfigureAwait(false);
    }

    private ValueTask Done(List<string>? errors)
    {
        if (errors is null)
        {
            return ValueTask.CompletedTask;
        }

        _dropped.Add(errors.Count);
        if (Interlocked.Add(ref _droppedCount, errors.Count) - errors.Count == 0)
        {
            PrometheusLog.RecordFailed(_logger, _name, errors[0]);
        }

        // As Istio: the report answers with what went wrong; everything else was recorded.
        return ValueTask.FromException(new InvalidOperationException(string.Join("; ", errors.Distinct().Take(5))));
    }

    /// <summary>The series named by <paramref name="dimensions"/>: from the metric's cache, or from its family (and cached).</summary>
    private static Series Find(Binding b, ReadOnlySpan<AttributeValue> dimensions, long now)
    {
        var hash = 0;
        foreach (var v in dimensions)
        {
            hash = HashCode.Combine(hash, v.GetHashCode());
        }

        ref var slot = ref b.Cache[hash & (Binding.CacheSize - 1)];
        var cached = Volatile.Read(ref slot);
        if (cached is not null && cached.Matches(dimensions) && cached.Touch(now))
        {
            return cached;
        }

        var labels = new string[dimensions.Length];
        for (var j = 0; j < labels.Length; j++)
        {
            labels[j] = Text(dimensions[j]);
        }

        var series = b.Family.Series.Open(labels, dimensions, now, b.Child);
        Volatile.Write(ref slot, series);
        return series;
    }

    /// <summary>
    /// One call's recording: the last series per metric, and what is not yet applied to it — a
    /// counter's sum, a gauge's last value, a histogram's run of one value — so a run of rows on one
    /// series touches the shared child once.
    /// </summary>
    private ref struct Recorder(PrometheusHandler handler)
    {
        private readonly PrometheusHandler _handler = handler;
        private readonly Series?[] _last = new Series?[handler._byId.Length];
        private readonly double[] _pending = new double[handler._byId.Length];
        private readonly long[] _counts = new long[handler._byId.Length];
        private readonly long _now = handler._time.GetTimestamp();

        public string? Record(Binding b, string instance, AttributeValue v, ReadOnlySpan<AttributeValue> dimensions)
        {
            if (!TryNumber(v, out var value))
            {
                return $"could not get value for metric {instance}: {v.Type.ToIstioName()} value '{v}' is not a number";
            }

            if (b.Kind == MetricKind.Counter && !(value >= 0))
            {
                return $"metric {instance}: a counter cannot be increased by {value.ToString(CultureInfo.InvariantCulture)}";
            }

            var i = b.Index;
            ref var last = ref _last[i];
            if (last is null || last.Retired || !last.Matches(dimensions))
            {
                Apply(b);
                last = Find(b, dimensions, _now);
            }

            switch (b.Kind)
            {
                case MetricKind.Counter:
                    _pending[i] += value;
                    break;
                case MetricKind.Gauge:
                    // Only the last value of a run can be seen.
                    _pending[i] = value;
                    _counts[i] = 1;
                    break;
                default:
                    if (_counts[i] == 0 || !_pending[i].Equals(value))
                    {
                        Apply(b);
                        _pending[i] = value;
                    }

                    _counts[i]++;
                    break;
            }

            return null;
        }

        public void Flush()
        {
            foreach (var b in _handler._byId)
            {
                Apply(b);
            }
        }

        private void Apply(Binding b)
        {
            var i = b.Index;
            if (_last[i] is { } series)
            {
                switch (b.Kind)
                {
                    case MetricKind.Counter when _pending[i] != 0:
                        ((Counter.Child)series.Child).Inc(_pending[i]);
                        break;
                    case MetricKind.Gauge when _counts[i] > 0:
                        ((Gauge.Child)series.Child).Set(_pending[i]);
                        break;
                    case MetricKind.Distribution when _counts[i] > 0:
                        ((Histogram.Child)series.Child).Observe(_pending[i], _counts[i]);
                        break;
                }
            }

            _pending[i] = 0;
            _counts[i] = 0;
        }
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

    /// <summary>A label value: strings as they are (no copy), small integers from a table, the rest in Istio's text forms; a dimension the instance lacks is empty.</summary>
    private static string Text(AttributeValue v) => v.Type switch
    {
        ValueType.Unspecified => string.Empty,
        ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => v.AsString,
        ValueType.Int64 when v.AsInt64 is >= 0 and < 1024 => s_smallInts[v.AsInt64],
        _ => v.ToString(),
    };

    private sealed class Binding(Family family, int index)
    {
        /// <summary>Label sets remembered per metric across reports: a direct-mapped table, so its size is fixed.</summary>
        public const int CacheSize = 256;

        public int Index { get; } = index;

        public Family Family { get; } = family;

        public string InstanceName { get; } = family.Shape.InstanceName;

        public MetricKind Kind { get; } = family.Shape.Kind;

        public string[] Dimensions { get; } = [.. family.Shape.Dimensions];

        public Series?[] Cache { get; } = new Series?[CacheSize];

        public ChildBase Child(string[] labels) => Kind switch
        {
            MetricKind.Counter => ((Counter)Family.Collector).WithLabels(labels),
            MetricKind.Gauge => ((Gauge)Family.Collector).WithLabels(labels),
            _ => ((Histogram)Family.Collector).WithLabels(labels),
        };
    }

    /// <summary>
    /// Istio's metricsExpirationPolicy: label sets not updated for the expiry duration are removed
    /// from the endpoint (and start again from zero if they come back). Use by any handler of the
    /// same family counts (the families' series are shared).
    /// </summary>
    private sealed class Expiry : IDisposable
    {
        private readonly TimeProvider _time;
        private readonly long _expiry;
        private readonly System.Threading.ITimer _timer;
        private readonly ILogger _logger;
        private readonly string _handler;
        private readonly IReadOnlyList<Family> _families;

        public Expiry(ExpirationPolicy policy, IReadOnlyList<Family> families, TimeProvider time, ILogger logger, string handler)
        {
            _time = time;
            _logger = logger;
            _handler = handler;
            _families = families;
            _expiry = (long)(policy.MetricsExpiryDuration.TotalSeconds * time.TimestampFrequency);
            var every = policy.ExpiryCheckIntervalDuration > TimeSpan.Zero ? policy.ExpiryCheckIntervalDuration : policy.MetricsExpiryDuration / 2;
            _timer = time.CreateTimer(_ => Sweep(), null, every, every);
        }

        public void Dispose() => _timer.Dispose();

        private void Sweep()
        {
            var removed = 0;
            foreach (var f in _families)
            {
                removed += f.Series.Sweep(_time.GetTimestamp(), _expiry);
            }

            if (removed > 0)
            {
                PrometheusLog.Expired(_logger, _handler, removed);
            }
        }
    }
}
