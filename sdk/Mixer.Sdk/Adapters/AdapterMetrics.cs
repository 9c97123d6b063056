namespace Mixer.Sdk.Adapters;

/// <summary>
/// Where a handler reports its own health (what it dropped, what finally failed, how full its
/// queue is) so that operators see it beside Mixer's other metrics: in mixs, on the monitoring
/// endpoint (<c>/metrics</c> on <c>--monitoringPort</c>). The host adds the labels <c>handler</c>
/// (the handler's fully qualified name) and <c>adapter</c> to every series, so an adapter names
/// only what it measures.
/// </summary>
/// <remarks>
/// This is for the adapter's own bookkeeping, not for the telemetry it handles: the prometheus
/// adapter's metrics live in its own registry, served on its own port.
/// Names follow Prometheus conventions: snake_case, counters ending in <c>_total</c>, e.g.
/// <c>mixer_adapter_dropped_total</c>. The same name asked for twice returns the same series.
/// </remarks>
public interface IAdapterMetrics
{
    /// <summary>A monotonic counter labelled with this handler. Cheap to <see cref="IAdapterCounter.Add"/> to from any thread.</summary>
    /// <param name="name">The metric name, e.g. <c>mixer_adapter_dropped_total</c>.</param>
    /// <param name="help">One line saying what is counted.</param>
    IAdapterCounter Counter(string name, string help);

    /// <summary>
    /// A gauge the host reads with <paramref name="read"/> whenever it is scraped (e.g. a queue's
    /// length). Dispose the result when the handler closes, so the series goes away with it.
    /// </summary>
    /// <param name="name">The metric name, e.g. <c>mixer_adapter_queue_length</c>.</param>
    /// <param name="help">One line saying what is measured.</param>
    /// <param name="read">Returns the current value; called on the scraping thread, must not block.</param>
    IDisposable Gauge(string name, string help, Func<double> read);
}

/// <summary>A counter of an <see cref="IAdapterMetrics"/>.</summary>
public interface IAdapterCounter
{
    /// <summary>Adds <paramref name="count"/> (not negative).</summary>
    void Add(long count);
}

/// <summary>Implementations of <see cref="IAdapterMetrics"/> that need no host.</summary>
public static class AdapterMetrics
{
    /// <summary>Discards everything: the default when a host exports nothing (mixc validate, unit tests).</summary>
    public static IAdapterMetrics None { get; } = new NoMetrics();

    private sealed class NoMetrics : IAdapterMetrics, IAdapterCounter, IDisposable
    {
        public IAdapterCounter Counter(string name, string help) => this;

        public IDisposable Gauge(string name, string help, Func<double> read) => this;

        public void Add(long count)
        {
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>Names of well-known <see cref="HandlerContext.Settings"/> a host may give every handler.</summary>
public static class HostSettings
{
    /// <summary>
    /// How long a handler may take, once disposed, to send what it still holds (a Go duration such
    /// as <c>10s</c>; mixs: its <c>--shutdownTimeout</c>). What is not sent by then is counted as dropped.
    /// </summary>
    public const string ShutdownTimeout = "shutdownTimeout";

    /// <summary>Reads <see cref="ShutdownTimeout"/> from <paramref name="settings"/>, or <paramref name="fallback"/>.</summary>
    public static TimeSpan ShutdownTimeoutOf(IReadOnlyDictionary<string, string> settings, TimeSpan fallback)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.TryGetValue(ShutdownTimeout, out var text) && GoDuration.TryParse(text, out var nanos) && nanos >= 0
            ? TimeSpan.FromTicks(nanos / 100)
            : fallback;
    }
}
