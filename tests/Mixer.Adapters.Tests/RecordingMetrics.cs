using System.Collections.Concurrent;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Tests;

/// <summary>An <see cref="IAdapterMetrics"/> that remembers what a handler reported, as mixs's /metrics would show it.</summary>
internal sealed class RecordingMetrics : IAdapterMetrics
{
    private readonly ConcurrentDictionary<string, Count> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<double>> _gauges = new(StringComparer.Ordinal);

    public long this[string counter] => _counters.TryGetValue(counter, out var c) ? Interlocked.Read(ref c.Value) : 0;

    public double Gauge(string name) => _gauges.TryGetValue(name, out var read) ? read() : double.NaN;

    public IAdapterCounter Counter(string name, string help) => _counters.GetOrAdd(name, _ => new Count());

    public IDisposable Gauge(string name, string help, Func<double> read)
    {
        _gauges[name] = read;
        return new Removal(() => _gauges.TryRemove(name, out _));
    }

    private sealed class Count : IAdapterCounter
    {
        public long Value;

        public void Add(long count) => Interlocked.Add(ref Value, count);
    }

    private sealed class Removal(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }
}
