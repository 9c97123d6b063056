using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Mixer.Runtime.Snapshot;
using Mixer.Sdk;
using Mixer.Sdk.Templates;
using Policy = Istio.Policy.V1beta1;
using ValueType = Mixer.Sdk.ValueType;
using WireValueType = Istio.Policy.V1beta1.ValueType;

namespace Mixer.Runtime.Remote;

/// <summary>
/// SDK instances as the <c>InstanceMsg</c> of each template's Handle service, and the inferred
/// <c>Type</c> of each instance for session-based adapters: Istio 1.0.3's rules (a <c>Value</c>
/// field carries the oneof branch of the expression's type; a wrapper-typed field such as
/// logentry's <c>timestamp</c> carries that wrapper; STRING_MAP is never sent).
/// </summary>
internal static class RemoteInstances
{
    public static Policy.Value Value(AttributeValue v, string field, string? key = null)
    {
        var value = new Policy.Value();
        switch (v.Type)
        {
            case ValueType.Unspecified:
                break;
            case ValueType.String:
                value.StringValue = v.AsString;
                break;
            case ValueType.Int64:
                value.Int64Value = v.AsInt64;
                break;
            case ValueType.Double:
                value.DoubleValue = v.AsDouble;
                break;
            case ValueType.Bool:
                value.BoolValue = v.AsBool;
                break;
            case ValueType.Timestamp:
                value.TimestampValue = TimeStamp(v);
                break;
            case ValueType.IpAddress:
                value.IpAddressValue = new Policy.IPAddress { Value = ByteString.CopyFrom(v.AsBytes) };
                break;
            case ValueType.Duration:
                value.DurationValue = new Policy.Duration { Value = Duration(v.AsDurationNanos) };
                break;
            case ValueType.EmailAddress:
                value.EmailAddressValue = new Policy.EmailAddress { Value = v.AsString };
                break;
            case ValueType.Uri:
                value.UriValue = new Policy.Uri { Value = v.AsString };
                break;
            case ValueType.DnsName:
                value.DnsNameValue = new Policy.DNSName { Value = v.AsString };
                break;
            default:
                throw new NotSupportedException($"field '{(key is null ? field : $"{field}[{key}]")}': a {v.Type.ToIstioName()} value cannot be sent to an out-of-process adapter");
        }

        return value;
    }

    public static Policy.TimeStamp TimeStamp(AttributeValue v) =>
        new() { Value = v.Type == ValueType.Timestamp ? new Timestamp { Seconds = v.TimestampSeconds, Nanos = v.TimestampNanos } : new Timestamp() };

    private static Duration Duration(long nanos) => new() { Seconds = nanos / 1_000_000_000, Nanos = (int)(nanos % 1_000_000_000) };

    private static void Fill(MapField<string, Policy.Value> target, IReadOnlyDictionary<string, AttributeValue> source, string field)
    {
        foreach (var (k, v) in source)
        {
            target[k] = Value(v, field, k);
        }
    }

    public static Istio.Mixer.Template.Metric.InstanceMsg Metric(MetricInstance i)
    {
        var msg = new Istio.Mixer.Template.Metric.InstanceMsg
        {
            Name = i.Name,
            Value = Value(i.Value, "value"),
            MonitoredResourceType = i.MonitoredResourceType,
        };
        Fill(msg.Dimensions, i.Dimensions, "dimensions");
        Fill(msg.MonitoredResourceDimensions, i.MonitoredResourceDimensions, "monitoredResourceDimensions");
        return msg;
    }

    public static Istio.Mixer.Template.LogEntry.InstanceMsg LogEntry(LogEntryInstance i)
    {
        var msg = new Istio.Mixer.Template.LogEntry.InstanceMsg
        {
            Name = i.Name,
            Timestamp = TimeStamp(i.Timestamp),
            Severity = i.Severity,
            MonitoredResourceType = i.MonitoredResourceType,
        };
        Fill(msg.Variables, i.Variables, "variables");
        Fill(msg.MonitoredResourceDimensions, i.MonitoredResourceDimensions, "monitoredResourceDimensions");
        return msg;
    }

    public static Istio.Mixer.Template.TraceSpan.InstanceMsg TraceSpan(TraceSpanInstance i)
    {
        var msg = new Istio.Mixer.Template.TraceSpan.InstanceMsg
        {
            Name = i.Name,
            TraceId = i.TraceId,
            SpanId = i.SpanId,
            ParentSpanId = i.ParentSpanId,
            SpanName = i.SpanName,
            StartTime = TimeStamp(i.StartTime),
            EndTime = TimeStamp(i.EndTime),
            HttpStatusCode = i.HttpStatusCode,
            ClientSpan = i.ClientSpan,
            RewriteClientSpanId = i.RewriteClientSpanId,
        };
        Fill(msg.SpanTags, i.SpanTags, "spanTags");
        return msg;
    }

    public static Istio.Mixer.Template.ReportNothing.InstanceMsg ReportNothing(ReportNothingInstance i) => new() { Name = i.Name };

    public static Istio.Mixer.Template.CheckNothing.InstanceMsg CheckNothing(CheckNothingInstance i) => new() { Name = i.Name };

    public static Istio.Mixer.Template.ListEntry.InstanceMsg ListEntry(ListEntryInstance i) => new() { Name = i.Name, Value = i.Value };

    public static Istio.Mixer.Template.Quota.InstanceMsg Quota(QuotaInstance i)
    {
        var msg = new Istio.Mixer.Template.Quota.InstanceMsg { Name = i.Name };
        Fill(msg.Dimensions, i.Dimensions, "dimensions");
        return msg;
    }

    public static Istio.Mixer.Template.ApiKey.InstanceMsg ApiKey(ApiKeyInstance i) => new()
    {
        Name = i.Name,
        Api = i.Api,
        ApiVersion = i.ApiVersion,
        ApiOperation = i.ApiOperation,
        ApiKey = i.ApiKey,
        Timestamp = TimeStamp(i.Timestamp),
    };

    public static Istio.Mixer.Template.Authorization.InstanceMsg Authorization(AuthorizationInstance i)
    {
        var subject = new Istio.Mixer.Template.Authorization.SubjectMsg { User = i.Subject.User, Groups = i.Subject.Groups };
        Fill(subject.Properties, i.Subject.Properties, "subject.properties");
        var action = new Istio.Mixer.Template.Authorization.ActionMsg
        {
            Namespace = i.Action.Namespace,
            Service = i.Action.Service,
            Method = i.Action.Method,
            Path = i.Action.Path,
        };
        Fill(action.Properties, i.Action.Properties, "action.properties");
        return new Istio.Mixer.Template.Authorization.InstanceMsg { Name = i.Name, Subject = subject, Action = action };
    }

    /// <summary>
    /// Why <paramref name="instance"/> cannot go to an out-of-process adapter (a field whose
    /// expression has a type no <c>istio.policy.v1beta1.Value</c> branch carries), or null.
    /// </summary>
    public static string? Unsendable(InstanceEntry instance)
    {
        foreach (var field in instance.Fields)
        {
            if (field.Expression is { } e && !Sendable(e.Type))
            {
                return $"instance '{instance.Name}' field '{field.Path}' is {e.Type.ToIstioName()}, which cannot be sent to an out-of-process adapter";
            }

            foreach (var (key, expr) in field.Map ?? [])
            {
                if (!Sendable(expr.Type))
                {
                    return $"instance '{instance.Name}' field '{field.Path}[{key}]' is {expr.Type.ToIstioName()}, which cannot be sent to an out-of-process adapter";
                }
            }
        }

        return null;
    }

    private static bool Sendable(ValueType t) => t is not (ValueType.StringMap or ValueType.Bytes);

    /// <summary>
    /// The template's <c>Type</c> message for <paramref name="instance"/>: the value types its
    /// expressions were inferred to have, as an Any (what Validate and CreateSession carry).
    /// </summary>
    public static Any InferredType(InstanceEntry instance)
    {
        WireValueType Of(string path) => instance.Fields.FirstOrDefault(f => f.Path == path)?.Expression is { } e ? (WireValueType)(int)e.Type : WireValueType.Unspecified;

        void Map(MapField<string, WireValueType> target, string path)
        {
            foreach (var (k, e) in instance.Fields.FirstOrDefault(f => f.Path == path)?.Map ?? [])
            {
                target[k] = (WireValueType)(int)e.Type;
            }
        }

        IMessage message;
        switch (instance.Template.Name)
        {
            case "metric":
                var metric = new Istio.Mixer.Template.Metric.Type { Value = Of("value") };
                Map(metric.Dimensions, "dimensions");
                Map(metric.MonitoredResourceDimensions, "monitoredResourceDimensions");
                message = metric;
                break;
            case "logentry":
                var log = new Istio.Mixer.Template.LogEntry.Type();
                Map(log.Variables, "variables");
                Map(log.MonitoredResourceDimensions, "monitoredResourceDimensions");
                message = log;
                break;
            case "tracespan":
                var span = new Istio.Mixer.Template.TraceSpan.Type();
                Map(span.SpanTags, "spanTags");
                message = span;
                break;
            case "quota":
                var quota = new Istio.Mixer.Template.Quota.Type();
                Map(quota.Dimensions, "dimensions");
                message = quota;
                break;
            case "authorization":
                var subject = new Istio.Mixer.Template.Authorization.SubjectType();
                Map(subject.Properties, "subject.properties");
                var action = new Istio.Mixer.Template.Authorization.ActionType();
                Map(action.Properties, "action.properties");
                message = new Istio.Mixer.Template.Authorization.Type { Subject = subject, Action = action };
                break;
            case "listentry":
                message = new Istio.Mixer.Template.ListEntry.Type();
                break;
            case "checknothing":
                message = new Istio.Mixer.Template.CheckNothing.Type();
                break;
            case "reportnothing":
                message = new Istio.Mixer.Template.ReportNothing.Type();
                break;
            case "apikey":
                message = new Istio.Mixer.Template.ApiKey.Type();
                break;
            default:
                throw new NotSupportedException($"template '{instance.Template.Name}' has no out-of-process form");
        }

        return Any.Pack(message);
    }
}
