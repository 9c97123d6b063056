using Mixer.Sdk.Templates;

namespace Mixer.Sdk.Adapters;

/// <summary>
/// A configured adapter: built once per handler config, reused while that config is unchanged, and
/// disposed when it is removed (after the calls it is serving finish). Implement one or more of the
/// per-template interfaces below.
/// </summary>
public interface IHandler : IAsyncDisposable;

/// <summary>Handles <c>checknothing</c> instances.</summary>
public interface ICheckNothingHandler : IHandler
{
    /// <summary>Decides on one request.</summary>
    ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken);
}

/// <summary>Handles <c>listentry</c> instances.</summary>
public interface IListEntryHandler : IHandler
{
    /// <summary>Checks one value against the list.</summary>
    ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken);
}

/// <summary>Handles <c>authorization</c> instances.</summary>
public interface IAuthorizationHandler : IHandler
{
    /// <summary>Decides whether the subject may perform the action.</summary>
    ValueTask<CheckResult> HandleAuthorizationAsync(AuthorizationInstance instance, CancellationToken cancellationToken);
}

/// <summary>Handles <c>apikey</c> instances.</summary>
public interface IApiKeyHandler : IHandler
{
    /// <summary>Checks an API key.</summary>
    ValueTask<CheckResult> HandleApiKeyAsync(ApiKeyInstance instance, CancellationToken cancellationToken);
}

/// <summary>Handles <c>quota</c> instances.</summary>
public interface IQuotaHandler : IHandler
{
    /// <summary>Allocates quota.</summary>
    ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken);
}

/// <summary>Handles <c>metric</c> instances, a batch per report.</summary>
public interface IMetricHandler : IHandler
{
    /// <summary>Records metrics. Must not block on a slow backend: queue and return.</summary>
    ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken);
}

/// <summary>
/// A <see cref="IMetricHandler"/> that also takes a report's metric instances as rows of a
/// <see cref="MetricBatch"/>: only the dimensions it reads, already in its order, with no object per
/// instance. The runtime prefers this call when a handler offers it; <see cref="IMetricHandler.HandleMetricAsync"/>
/// must still work (other hosts and tests may use it), and both must record the same thing.
/// </summary>
public interface IMetricBatchHandler : IMetricHandler
{
    /// <summary>
    /// The layout of instances named <paramref name="instanceName"/> (fully qualified), or null
    /// when this handler does not know them (their rows then come with id -1 and no dimensions, for
    /// the handler to refuse as it would in <see cref="IMetricHandler.HandleMetricAsync"/>). Asked
    /// once per config snapshot, off the request path.
    /// </summary>
    MetricLayout? GetLayout(string instanceName);

    /// <summary>
    /// Records one report's metrics. The batch is valid only until the returned task completes.
    /// Must not block on a slow backend: queue (a copy) and return.
    /// </summary>
    ValueTask HandleMetricBatchAsync(MetricBatch batch, CancellationToken cancellationToken);
}

/// <summary>Handles <c>logentry</c> instances, a batch per report.</summary>
public interface ILogEntryHandler : IHandler
{
    /// <summary>Records log entries. Must not block on a slow backend: queue and return.</summary>
    ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken);
}

/// <summary>Handles <c>tracespan</c> instances, a batch per report.</summary>
public interface ITraceSpanHandler : IHandler
{
    /// <summary>Records spans.</summary>
    ValueTask HandleTraceSpanAsync(IReadOnlyList<TraceSpanInstance> instances, CancellationToken cancellationToken);
}

/// <summary>Handles <c>reportnothing</c> instances.</summary>
public interface IReportNothingHandler : IHandler
{
    /// <summary>Notes that reports happened.</summary>
    ValueTask HandleReportNothingAsync(IReadOnlyList<ReportNothingInstance> instances, CancellationToken cancellationToken);
}
