namespace Mixer.Runtime.Dispatch;

/// <summary>
/// Where the runtime reports handler calls. The host supplies it (mixs exports Prometheus metrics);
/// the runtime asks once per handler and then records each call without lookups.
/// </summary>
public interface IDispatchMetrics
{
    /// <summary>The recorder for one handler (by fully qualified name) of an adapter.</summary>
    IHandlerMetrics ForHandler(string handler, string adapter);
}

/// <summary>Records the calls of one handler.</summary>
public interface IHandlerMetrics
{
    /// <summary>One call took <paramref name="elapsed"/>; <paramref name="failed"/> when it threw, timed out or answered INTERNAL.</summary>
    void Record(TimeSpan elapsed, bool failed);
}

/// <summary>Records nothing (tools such as mixc validate, and tests).</summary>
public sealed class NoDispatchMetrics : IDispatchMetrics, IHandlerMetrics
{
    /// <summary>The shared instance.</summary>
    public static NoDispatchMetrics Instance { get; } = new();

    /// <inheritdoc/>
    public IHandlerMetrics ForHandler(string handler, string adapter) => this;

    /// <inheritdoc/>
    public void Record(TimeSpan elapsed, bool failed)
    {
    }
}
