using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Mixer.Sdk.Adapters;

/// <summary>What an adapter is: its name (the handler kind operators write), what it does, which templates it serves.</summary>
/// <param name="Name">The adapter name, e.g. <c>denier</c>; also the 1.0 per-adapter config kind.</param>
/// <param name="Description">One line for people.</param>
/// <param name="SupportedTemplates">Template names, e.g. <c>checknothing</c>, <c>listentry</c>.</param>
public sealed record AdapterInfo(string Name, string Description, IReadOnlyList<string> SupportedTemplates);

/// <summary>A problem in a handler's params: the field (dotted path, e.g. <c>quotas[0].maxAmount</c>) and why.</summary>
/// <param name="Field">The field path within the params, empty for the params as a whole.</param>
/// <param name="Reason">What is wrong and what would be valid.</param>
public sealed record ConfigProblem(string Field, string Reason)
{
    /// <summary>
    /// For a field holding multi-line text (a script), the 1-based line within that text the
    /// problem is on, or null. When the YAML wrote the text as a literal block (<c>|</c>), the host
    /// reports the YAML line of that text line instead of the field's own line.
    /// </summary>
    public int? TextLine { get; init; }
}

/// <summary>Everything a handler is built from.</summary>
public sealed class HandlerContext
{
    /// <summary>The handler's fully qualified name (<c>name.kind.namespace</c>).</summary>
    public required string HandlerName { get; init; }

    /// <summary>
    /// The handler's params as JSON: the YAML spec with field names in camelCase (Istio accepts
    /// snake_case too; it is normalised before it reaches you).
    /// </summary>
    public required JsonElement Params { get; init; }

    /// <summary>Fully qualified names of the instances routed to this handler, with their template names.</summary>
    public required IReadOnlyDictionary<string, string> Instances { get; init; }

    /// <summary>A logger for the handler.</summary>
    public required ILogger Logger { get; init; }

    /// <summary>The clock (tests substitute their own).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Host-level settings an adapter may read (e.g. the Prometheus adapter's port), by name.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Where the handler reports its own counters and gauges (drops, failures, queue length); the
    /// host exports them labelled with <see cref="HandlerName"/>. Never null.
    /// </summary>
    public IAdapterMetrics Metrics { get; init; } = AdapterMetrics.None;
}

/// <summary>
/// An adapter: validates handler params and builds handlers. One instance serves every handler of
/// its kind; keep shared state (e.g. a metrics registry) here and per-handler state in the handler.
/// </summary>
public interface IAdapter
{
    /// <summary>What the adapter is.</summary>
    AdapterInfo Info { get; }

    /// <summary>Checks params without building anything. Return every problem, not just the first.</summary>
    IReadOnlyList<ConfigProblem> Validate(JsonElement parameters);

    /// <summary>Builds a handler from valid params.</summary>
    ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken);
}
