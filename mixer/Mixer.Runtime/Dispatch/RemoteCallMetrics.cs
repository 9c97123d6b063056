namespace Mixer.Runtime.Dispatch;

/// <summary>
/// Where calls to out-of-process adapters are recorded, one series per handler, adapter,
/// template and outcome (mixs exports them on its monitoring endpoint). The runtime asks once per
/// handler and template, then records without lookups.
/// </summary>
public interface IRemoteCallMetrics
{
    /// <summary>The recorder of one handler's calls for one template.</summary>
    IRemoteTemplateMetrics For(string handler, string adapter, string template);
}

/// <summary>Records the calls of one handler for one template.</summary>
public interface IRemoteTemplateMetrics
{
    /// <summary>
    /// One call (with its retries) ended with the gRPC status <paramref name="code"/> (e.g.
    /// <c>OK</c>, <c>UNAVAILABLE</c>, <c>DEADLINE_EXCEEDED</c>) after <paramref name="elapsed"/>.
    /// </summary>
    void Record(string code, TimeSpan elapsed);

    /// <summary>An attempt answered UNAVAILABLE and is being tried again.</summary>
    void Retried();
}

/// <summary>Records nothing (mixc validate, tests).</summary>
public sealed class NoRemoteCallMetrics : IRemoteCallMetrics, IRemoteTemplateMetrics
{
    /// <summary>The shared instance.</summary>
    public static NoRemoteCallMetrics Instance { get; } = new();

    /// <inheritdoc/>
    public IRemoteTemplateMetrics For(string handler, string adapter, string template) => this;

    /// <inheritdoc/>
    public void Record(string code, TimeSpan elapsed)
    {
    }

    /// <inheritdoc/>
    public void Retried()
    {
    }
}
