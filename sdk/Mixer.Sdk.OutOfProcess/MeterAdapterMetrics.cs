using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Mixer.Sdk.Adapters;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>
/// A handler's own counters and gauges (<see cref="HandlerContext.Metrics"/>) out of process:
/// instruments of the <c>Mixer.Sdk.OutOfProcess</c> <see cref="Meter"/>, tagged with
/// <c>adapter</c> and <c>handler</c>, so <c>dotnet-counters</c> or any OpenTelemetry exporter the
/// adapter adds can read what a handler dropped or queued. Nothing is exported unless something
/// listens, and then nothing is lost: counts accumulate from the handler's start.
/// </summary>
internal sealed class MeterAdapterMetrics : IDisposable
{
    public const string MeterName = "Mixer.Sdk.OutOfProcess";

    private readonly Meter _meter = new(MeterName);
    private readonly ConcurrentDictionary<string, Counter<long>> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, GaugeReadings> _gauges = new(StringComparer.Ordinal);

    /// <summary>The metrics of one handler.</summary>
    public IAdapterMetrics ForHandler(string adapter, string handler) => new HandlerMetrics(this, adapter, handler);

    public void Dispose() => _meter.Dispose();

    private sealed class HandlerMetrics(MeterAdapterMetrics owner, string adapter, string handler) : IAdapterMetrics
    {
        private readonly KeyValuePair<string, object?>[] _tags = [new("adapter", adapter), new("handler", handler)];

        public IAdapterCounter Counter(string name, string help)
        {
            var counter = owner._counters.GetOrAdd(name, n => owner._meter.CreateCounter<long>(n, description: help));
            return new HandlerCounter(counter, _tags);
        }

        public IDisposable Gauge(string name, string help, Func<double> read)
        {
            var readings = owner._gauges.GetOrAdd(name, n =>
            {
                var r = new GaugeReadings();
                owner._meter.CreateObservableGauge(n, r.Observe, description: help);
                return r;
            });
            return readings.Add(read, _tags);
        }
    }

    private sealed class HandlerCounter(Counter<long> counter, KeyValuePair<string, object?>[] tags) : IAdapterCounter
    {
        public void Add(long count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            counter.Add(count, tags);
        }
    }

    /// <summary>Every handler's reader of one gauge name; a handler's entry goes when it disposes it.</summary>
    private sealed class GaugeReadings
    {
        private readonly ConcurrentDictionary<object, (Func<double> Read, KeyValuePair<string, object?>[] Tags)> _readers = new();

        public IDisposable Add(Func<double> read, KeyValuePair<string, object?>[] tags)
        {
            var key = new object();
            _readers[key] = (read, tags);
            return new Removal(() => _readers.TryRemove(key, out _));
        }

        public IEnumerable<Measurement<double>> Observe()
        {
            foreach (var (read, tags) in _readers.Values)
            {
                yield return new Measurement<double>(read(), tags);
            }
        }
    }

    private sealed class Removal(Action remove) : IDisposable
    {
        private Action? _remove = remove;

        public void Dispose() => Interlocked.Exchange(ref _remove, null)?.Invoke();
    }
}
