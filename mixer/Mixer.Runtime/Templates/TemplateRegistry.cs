using Mixer.Sdk;
using Mixer.Sdk.Templates;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Runtime.Templates;

/// <summary>When a template's instances are dispatched.</summary>
public enum Variety
{
    /// <summary>On Check: the handler decides whether the request proceeds.</summary>
    Check,

    /// <summary>On Report: the handler records what happened.</summary>
    Report,

    /// <summary>On Check, per requested quota.</summary>
    Quota,
}

/// <summary>How a template field is written and what it must evaluate to.</summary>
public enum FieldKind
{
    /// <summary>An expression of any type (Istio's <c>istio.policy.v1beta1.Value</c>).</summary>
    Value,

    /// <summary>An expression of exactly <see cref="TemplateField.Type"/>.</summary>
    Typed,

    /// <summary>A map of name to expression of any type.</summary>
    ValueMap,

    /// <summary>A nested message with fields of its own.</summary>
    Message,
}

/// <summary>One field of a template.</summary>
/// <param name="Name">The field name in camelCase (snake_case is accepted in YAML too).</param>
/// <param name="Kind">How it is written.</param>
/// <param name="Type">For <see cref="FieldKind.Typed"/>: the type the expression must have.</param>
/// <param name="Fields">For <see cref="FieldKind.Message"/>: the nested fields.</param>
public sealed record TemplateField(string Name, FieldKind Kind, ValueType Type = ValueType.Unspecified, IReadOnlyList<TemplateField>? Fields = null);

/// <summary>A compiled-in template: its fields and how an evaluated instance becomes a typed SDK instance.</summary>
public sealed record TemplateInfo(string Name, Variety Variety, IReadOnlyList<TemplateField> Fields, Func<string, InstanceValues, Instance> Create);

/// <summary>
/// The evaluated fields of one instance, by field path (<c>subject.user</c> for nested fields):
/// arrays in field order plus a path index shared by every evaluation of the same instance config,
/// so building an instance allocates no dictionary but the maps it hands out.
/// </summary>
public readonly struct InstanceValues(IReadOnlyDictionary<string, int> index, AttributeValue[] values, IReadOnlyDictionary<string, AttributeValue>?[]? maps)
{
    private static readonly IReadOnlyDictionary<string, AttributeValue> s_empty = new Dictionary<string, AttributeValue>();

    /// <summary>A value field, or the default when not set.</summary>
    public AttributeValue Get(string path) => index.TryGetValue(path, out var i) ? values[i] : default;

    /// <summary>A string field, or empty.</summary>
    public string String(string path)
    {
        var v = Get(path);
        return v.Type.IsStringLike() ? v.AsString
            : v.Type == ValueType.IpAddress ? v.ToString()
            : string.Empty;
    }

    /// <summary>A map field, or empty.</summary>
    public IReadOnlyDictionary<string, AttributeValue> Map(string path) =>
        maps is not null && index.TryGetValue(path, out var i) && maps[i] is { } m ? m : s_empty;
}

/// <summary>The templates compiled into Mixer, with Istio 1.0's fields and varieties.</summary>
public static class TemplateRegistry
{
    private static TemplateField Str(string name) => new(name, FieldKind.Typed, ValueType.String);

    private static TemplateField Time(string name) => new(name, FieldKind.Typed, ValueType.Timestamp);

    private static TemplateField Map(string name) => new(name, FieldKind.ValueMap);

    /// <summary>Every known template by name.</summary>
    public static IReadOnlyDictionary<string, TemplateInfo> All { get; } = new Dictionary<string, TemplateInfo>(StringComparer.Ordinal)
    {
        ["checknothing"] = new("checknothing", Variety.Check, [], static (n, _) => new CheckNothingInstance { Name = n }),
        ["reportnothing"] = new("reportnothing", Variety.Report, [], static (n, _) => new ReportNothingInstance { Name = n }),
        ["listentry"] = new("listentry", Variety.Check, [Str("value")], static (n, v) => new ListEntryInstance { Name = n, Value = v.String("value") }),
        ["quota"] = new("quota", Variety.Quota, [Map("dimensions")], static (n, v) => new QuotaInstance { Name = n, Dimensions = v.Map("dimensions") }),
        ["metric"] = new("metric", Variety.Report,
            [new("value", FieldKind.Value), Map("dimensions"), Str("monitoredResourceType"), Map("monitoredResourceDimensions")],
            static (n, v) => new MetricInstance
            {
                Name = n,
                Value = v.Get("value"),
                Dimensions = v.Map("dimensions"),
                MonitoredResourceType = v.String("monitoredResourceType"),
                MonitoredResourceDimensions = v.Map("monitoredResourceDimensions"),
            }),
        ["logentry"] = new("logentry", Variety.Report,
            [Map("variables"), Time("timestamp"), Str("severity"), Str("monitoredResourceType"), Map("monitoredResourceDimensions")],
            static (n, v) => new LogEntryInstance
            {
                Name = n,
                Variables = v.Map("variables"),
                Timestamp = v.Get("timestamp").IsEmpty ? AttributeValue.Timestamp(0, 0) : v.Get("timestamp"),
                Severity = v.String("severity"),
                MonitoredResourceType = v.String("monitoredResourceType"),
                MonitoredResourceDimensions = v.Map("monitoredResourceDimensions"),
            }),
        ["tracespan"] = new("tracespan", Variety.Report,
            [Str("traceId"), Str("spanId"), Str("parentSpanId"), Str("spanName"), Time("startTime"), Time("endTime"), Map("spanTags"),
             new("httpStatusCode", FieldKind.Typed, ValueType.Int64), new("clientSpan", FieldKind.Typed, ValueType.Bool),
             new("rewriteClientSpanId", FieldKind.Typed, ValueType.Bool)],
            static (n, v) => new TraceSpanInstance
            {
                Name = n,
                TraceId = v.String("traceId"),
                SpanId = v.String("spanId"),
                ParentSpanId = v.String("parentSpanId"),
                SpanName = v.String("spanName"),
                StartTime = v.Get("startTime").IsEmpty ? AttributeValue.Timestamp(0, 0) : v.Get("startTime"),
                EndTime = v.Get("endTime").IsEmpty ? AttributeValue.Timestamp(0, 0) : v.Get("endTime"),
                SpanTags = v.Map("spanTags"),
                HttpStatusCode = v.Get("httpStatusCode").Type == ValueType.Int64 ? v.Get("httpStatusCode").AsInt64 : 0,
                ClientSpan = v.Get("clientSpan").Type == ValueType.Bool && v.Get("clientSpan").AsBool,
                RewriteClientSpanId = v.Get("rewriteClientSpanId").Type == ValueType.Bool && v.Get("rewriteClientSpanId").AsBool,
            }),
        ["authorization"] = new("authorization", Variety.Check,
            [new("subject", FieldKind.Message, Fields: [Str("user"), Str("groups"), Map("properties")]),
             new("action", FieldKind.Message, Fields: [Str("namespace"), Str("service"), Str("method"), Str("path"), Map("properties")])],
            static (n, v) => new AuthorizationInstance
            {
                Name = n,
                Subject = new AuthorizationSubject { User = v.String("subject.user"), Groups = v.String("subject.groups"), Properties = v.Map("subject.properties") },
                Action = new AuthorizationAction
                {
                    Namespace = v.String("action.namespace"),
                    Service = v.String("action.service"),
                    Method = v.String("action.method"),
                    Path = v.String("action.path"),
                    Properties = v.Map("action.properties"),
                },
            }),
        ["apikey"] = new("apikey", Variety.Check,
            [Str("api"), Str("apiVersion"), Str("apiOperation"), Str("apiKey"), Time("timestamp")],
            static (n, v) => new ApiKeyInstance
            {
                Name = n,
                Api = v.String("api"),
                ApiVersion = v.String("apiVersion"),
                ApiOperation = v.String("apiOperation"),
                ApiKey = v.String("apiKey"),
                Timestamp = v.Get("timestamp").IsEmpty ? AttributeValue.Timestamp(0, 0) : v.Get("timestamp"),
            }),
    };
}
