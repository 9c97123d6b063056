using System.Collections.Concurrent;
using Mixer.Sdk.Adapters;
using Prometheus;

namespace Mixer.Server.Hosting;

/// <summary>
/// Handlers' own counters and gauges (<see cref="IAdapterMetrics"/>) in mixs's monitoring
/// registry, labelled by handler and adapter. Gauges are read when /metrics is scraped.
/// </summary>
internal sealed class PrometheusAdapterMetrics
{
    private static readonly string[] s_labels = ["handler", "adapter"];
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Gauge> _gauges = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<GaugeReading, byte> _readings = new();

    public PrometheusAdapterMetrics(CollectorRegistry registry)
    {
        Factory = Metrics.WithCustomRegistry(registry);
        registry.AddBeforeCollectCallback(() =>
        {
            foreach (var r in _readings.Keys)
            {
                r.Update();
            }
        });
    }

    private IMetricFactory Factory { get; }

    public IAdapterMetrics ForHandler(string handler, string adapter) => new HandlerMetrics(this, handler, adapter);

    private sealed class HandlerMetrics(PrometheusAdapterMetrics owner, string handler, string adapter) : IAdapterMetrics
    {
        public IAdapterCounter Counter(string name, string help)
        {
            var counter = owner._counters.GetOrAdd(name, n => owner.Factory.CreateCounter(n, help, s_labels));
            return new CounterChild(counter.WithLabels(handler, adapter));
        }

        public IDisposable Gauge(string name, string help, Func<double> read)
        {
            var gauge = owner._gauges.GetOrAdd(name, n => owner.Factory.CreateGauge(n, help, s_labels));
            var reading = new GaugeReading(owner, gauge, handler, adapter, read);
            owner._readings.TryAdd(reading, 0);
            return reading;
        }
    }

    private sealed class CounterChild(Counter.Child child) : IAdapterCounter
    {
        public void Add(long count) => child.Inc(count);
    }

    private sealed class GaugeReading(PrometheusAdapterMetrics owner, Gauge gauge, string handler, string adapter, Func<double> read) : IDisposable
    {
        private (Gauge, string, string) Series { get; } = (gauge, handler, adapter);

        public void Update()
        {
            try
            {
                gauge.WithLabels(handler, adapter).Set(read());
            }
            catch (ObjectDisposedException)
            {
                // The handler is closing; its series goes with Dispose.
            }
        }

        public void Dispose()
        {
            // A rebuilt handler of the same name may already report under the same labels: the
            // series goes only when the last of them closes.
            if (owner._readings.TryRemove(this, out _)
                && !owner._readings.Keys.Any(r => r.Series == Series))
            {
                gauge.WithLabels(handler, adapter).Remove();
            }
        }
    }
}
