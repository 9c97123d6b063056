namespace Mixer.Sdk.Templates;

/// <summary>
/// An instance of a template: what a rule hands a handler, built from the request's attributes
/// by the instance's expressions. <see cref="Name"/> is the instance's fully qualified name,
/// <c>name.kind.namespace</c> (e.g. <c>requestcount.metric.istio-system</c>), as in Istio.
/// </summary>
public abstract class Instance
{
    /// <summary>The instance's fully qualified name.</summary>
    public required string Name { get; init; }
}

/// <summary>The <c>checknothing</c> template (CHECK): no fields; for handlers that decide on their own (denier).</summary>
public sealed class CheckNothingInstance : Instance;

/// <summary>The <c>reportnothing</c> template (REPORT): no fields.</summary>
public sealed class ReportNothingInstance : Instance;

/// <summary>The <c>listentry</c> template (CHECK): one value to look up in a list.</summary>
public sealed class ListEntryInstance : Instance
{
    /// <summary>The entry to check.</summary>
    public required string Value { get; init; }
}

/// <summary>The <c>quota</c> template (QUOTA): the dimensions a quota is counted by.</summary>
public sealed class QuotaInstance : Instance
{
    /// <summary>Dimension name to value.</summary>
    public required IReadOnlyDictionary<string, AttributeValue> Dimensions { get; init; }
}

/// <summary>The <c>metric</c> template (REPORT).</summary>
public sealed class MetricInstance : Instance
{
    /// <summary>The value measured (any type; numbers and durations are usual).</summary>
    public required AttributeValue Value { get; init; }

    /// <summary>Label name to value.</summary>
    public required IReadOnlyDictionary<string, AttributeValue> Dimensions { get; init; }

    /// <summary>Monitored resource type (may be empty).</summary>
    public string MonitoredResourceType { get; init; } = string.Empty;

    /// <summary>Monitored resource dimensions.</summary>
    public IReadOnlyDictionary<string, AttributeValue> MonitoredResourceDimensions { get; init; } = Empty;

    internal static readonly IReadOnlyDictionary<string, AttributeValue> Empty = new Dictionary<string, AttributeValue>();
}

/// <summary>The <c>logentry</c> template (REPORT).</summary>
public sealed class LogEntryInstance : Instance
{
    /// <summary>The entry's variables.</summary>
    public required IReadOnlyDictionary<string, AttributeValue> Variables { get; init; }

    /// <summary>When it happened (the Unix epoch when not given).</summary>
    public AttributeValue Timestamp { get; init; } = AttributeValue.Timestamp(0, 0);

    /// <summary>Severity text (e.g. <c>Info</c>, <c>Warning</c>, <c>Error</c>).</summary>
    public string Severity { get; init; } = string.Empty;

    /// <summary>Monitored resource type (may be empty).</summary>
    public string MonitoredResourceType { get; init; } = string.Empty;

    /// <summary>Monitored resource dimensions.</summary>
    public IReadOnlyDictionary<string, AttributeValue> MonitoredResourceDimensions { get; init; } = MetricInstance.Empty;
}

/// <summary>The <c>tracespan</c> template (REPORT).</summary>
public sealed class TraceSpanInstance : Instance
{
    /// <summary>Trace id.</summary>
    public string TraceId { get; init; } = string.Empty;

    /// <summary>Span id.</summary>
    public string SpanId { get; init; } = string.Empty;

    /// <summary>Parent span id.</summary>
    public string ParentSpanId { get; init; } = string.Empty;

    /// <summary>Span name.</summary>
    public string SpanName { get; init; } = string.Empty;

    /// <summary>Start time.</summary>
    public AttributeValue StartTime { get; init; } = AttributeValue.Timestamp(0, 0);

    /// <summary>End time.</summary>
    public AttributeValue EndTime { get; init; } = AttributeValue.Timestamp(0, 0);

    /// <summary>Span tags.</summary>
    public IReadOnlyDictionary<string, AttributeValue> SpanTags { get; init; } = MetricInstance.Empty;

    /// <summary>HTTP status code (0 when not HTTP).</summary>
    public long HttpStatusCode { get; init; }

    /// <summary>Whether this is a client span.</summary>
    public bool ClientSpan { get; init; }

    /// <summary>Whether to rewrite the client span id.</summary>
    public bool RewriteClientSpanId { get; init; }
}

/// <summary>The <c>authorization</c> template (CHECK): who wants to do what.</summary>
public sealed class AuthorizationInstance : Instance
{
    /// <summary>The caller.</summary>
    public required AuthorizationSubject Subject { get; init; }

    /// <summary>What the caller wants to do.</summary>
    public required AuthorizationAction Action { get; init; }
}

/// <summary>The caller in an <see cref="AuthorizationInstance"/>.</summary>
public sealed class AuthorizationSubject
{
    /// <summary>User name (e.g. a SPIFFE principal).</summary>
    public string User { get; init; } = string.Empty;

    /// <summary>Groups, comma-separated as in Istio.</summary>
    public string Groups { get; init; } = string.Empty;

    /// <summary>Other properties of the caller.</summary>
    public IReadOnlyDictionary<string, AttributeValue> Properties { get; init; } = MetricInstance.Empty;
}

/// <summary>The action in an <see cref="AuthorizationInstance"/>.</summary>
public sealed class AuthorizationAction
{
    /// <summary>Namespace of the service called.</summary>
    public string Namespace { get; init; } = string.Empty;

    /// <summary>The service called (its host).</summary>
    public string Service { get; init; } = string.Empty;

    /// <summary>The method (HTTP verb or gRPC method).</summary>
    public string Method { get; init; } = string.Empty;

    /// <summary>The request path.</summary>
    public string Path { get; init; } = string.Empty;

    /// <summary>Other properties of the action.</summary>
    public IReadOnlyDictionary<string, AttributeValue> Properties { get; init; } = MetricInstance.Empty;
}

/// <summary>The <c>apikey</c> template (CHECK).</summary>
public sealed class ApiKeyInstance : Instance
{
    /// <summary>The API called.</summary>
    public string Api { get; init; } = string.Empty;

    /// <summary>Its version.</summary>
    public string ApiVersion { get; init; } = string.Empty;

    /// <summary>The operation.</summary>
    public string ApiOperation { get; init; } = string.Empty;

    /// <summary>The key presented.</summary>
    public string ApiKey { get; init; } = string.Empty;

    /// <summary>When.</summary>
    public AttributeValue Timestamp { get; init; } = AttributeValue.Timestamp(0, 0);
}
