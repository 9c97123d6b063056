using Google.Protobuf.Collections;
using Mixer.Sdk.Templates;
using Policy = Istio.Policy.V1beta1;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>
/// Turns the per-template <c>InstanceMsg</c> of a Handle call into the SDK's instance type, so
/// a handler sees the same objects in and out of process. A value the wire cannot mean (an IP
/// address that is not 4 or 16 bytes, a nanosecond field out of range) is a
/// <see cref="InstanceException"/> naming the instance and field.
/// </summary>
/// <remarks>
/// A map entry whose <c>istio.policy.v1beta1.Value</c> has no branch set is left out: Mixer sends
/// that for an expression that produced nothing, and in process such an entry is absent too.
/// </remarks>
internal static class Instances
{
    public static MetricInstance Metric(T.Metric.InstanceMsg m) => new()
    {
        Name = m.Name,
        Value = ValueOf(m.Value, m.Name, "value"),
        Dimensions = MapOf(m.Dimensions, m.Name, "dimensions"),
        MonitoredResourceType = m.MonitoredResourceType,
        MonitoredResourceDimensions = MapOf(m.MonitoredResourceDimensions, m.Name, "monitored_resource_dimensions"),
    };

    public static LogEntryInstance LogEntry(T.LogEntry.InstanceMsg m) => new()
    {
        Name = m.Name,
        Variables = MapOf(m.Variables, m.Name, "variables"),
        Timestamp = TimeOf(m.Timestamp, m.Name, "timestamp"),
        Severity = m.Severity,
        MonitoredResourceType = m.MonitoredResourceType,
        MonitoredResourceDimensions = MapOf(m.MonitoredResourceDimensions, m.Name, "monitored_resource_dimensions"),
    };

    public static TraceSpanInstance TraceSpan(T.TraceSpan.InstanceMsg m) => new()
    {
        Name = m.Name,
        TraceId = m.TraceId,
        SpanId = m.SpanId,
        ParentSpanId = m.ParentSpanId,
        SpanName = m.SpanName,
        StartTime = TimeOf(m.StartTime, m.Name, "start_time"),
        EndTime = TimeOf(m.EndTime, m.Name, "end_time"),
        SpanTags = MapOf(m.SpanTags, m.Name, "span_tags"),
        HttpStatusCode = m.HttpStatusCode,
        ClientSpan = m.ClientSpan,
        RewriteClientSpanId = m.RewriteClientSpanId,
    };

    public static ReportNothingInstance ReportNothing(T.ReportNothing.InstanceMsg m) => new() { Name = m.Name };

    public static CheckNothingInstance CheckNothing(T.CheckNothing.InstanceMsg m) => new() { Name = m.Name };

    public static ListEntryInstance ListEntry(T.ListEntry.InstanceMsg m) => new() { Name = m.Name, Value = m.Value };

    public static QuotaInstance Quota(T.Quota.InstanceMsg m) => new()
    {
        Name = m.Name,
        Dimensions = MapOf(m.Dimensions, m.Name, "dimensions"),
    };

    public static AuthorizationInstance Authorization(T.Authorization.InstanceMsg m)
    {
        var s = m.Subject ?? new T.Authorization.SubjectMsg();
        var a = m.Action ?? new T.Authorization.ActionMsg();
        return new AuthorizationInstance
        {
            Name = m.Name,
            Subject = new AuthorizationSubject
            {
                User = s.User,
                Groups = s.Groups,
                Properties = MapOf(s.Properties, m.Name, "subject.properties"),
            },
            Action = new AuthorizationAction
            {
                Namespace = a.Namespace,
                Service = a.Service,
                Method = a.Method,
                Path = a.Path,
                Properties = MapOf(a.Properties, m.Name, "action.properties"),
            },
        };
    }

    public static ApiKeyInstance ApiKey(T.ApiKey.InstanceMsg m) => new()
    {
        Name = m.Name,
        Api = m.Api,
        ApiVersion = m.ApiVersion,
        ApiOperation = m.ApiOperation,
        ApiKey = m.ApiKey,
        Timestamp = TimeOf(m.Timestamp, m.Name, "timestamp"),
    };

    /// <summary>
    /// The SDK value of a wire value; the empty value when no branch is set. <paramref name="key"/>
    /// names the map entry the value is (the error then says <c>field[key]</c>; the text is only
    /// built for an error).
    /// </summary>
    public static AttributeValue ValueOf(Policy.Value? v, string instance, string field, string? key = null)
    {
        if (v is null)
        {
            return default;
        }

        try
        {
            return v.ValueCase switch
            {
                Policy.Value.ValueOneofCase.StringValue => AttributeValue.String(v.StringValue),
                Policy.Value.ValueOneofCase.Int64Value => AttributeValue.Int64(v.Int64Value),
                Policy.Value.ValueOneofCase.DoubleValue => AttributeValue.Double(v.DoubleValue),
                Policy.Value.ValueOneofCase.BoolValue => AttributeValue.Bool(v.BoolValue),
                Policy.Value.ValueOneofCase.IpAddressValue => AttributeValue.IpAddress(v.IpAddressValue.Value.ToByteArray()),
                Policy.Value.ValueOneofCase.TimestampValue => Timestamp(v.TimestampValue.Value),
                Policy.Value.ValueOneofCase.DurationValue => Duration(v.DurationValue.Value),
                Policy.Value.ValueOneofCase.EmailAddressValue => AttributeValue.StringLike(ValueType.EmailAddress, v.EmailAddressValue.Value),
                Policy.Value.ValueOneofCase.DnsNameValue => AttributeValue.StringLike(ValueType.DnsName, v.DnsNameValue.Value),
                Policy.Value.ValueOneofCase.UriValue => AttributeValue.StringLike(ValueType.Uri, v.UriValue.Value),
                _ => default,
            };
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new InstanceException(instance, key is null ? field : $"{field}[{key}]", e.Message);
        }
    }

    private static AttributeValue TimeOf(Policy.TimeStamp? t, string instance, string field)
    {
        try
        {
            return Timestamp(t?.Value);
        }
        catch (ArgumentException e)
        {
            throw new InstanceException(instance, field, e.Message);
        }
    }

    private static AttributeValue Timestamp(Google.Protobuf.WellKnownTypes.Timestamp? t) =>
        t is null ? AttributeValue.Timestamp(0, 0) : AttributeValue.Timestamp(t.Seconds, t.Nanos);

    private static AttributeValue Duration(Google.Protobuf.WellKnownTypes.Duration? d)
    {
        if (d is null)
        {
            return AttributeValue.DurationNanos(0);
        }

        if (d.Nanos is <= -1_000_000_000 or >= 1_000_000_000 || (d.Seconds > 0 && d.Nanos < 0) || (d.Seconds < 0 && d.Nanos > 0))
        {
            throw new ArgumentException($"duration {d.Seconds}s {d.Nanos}ns is not normalised (nanos must be within a second and share the seconds' sign)");
        }

        return AttributeValue.DurationNanos(checked((d.Seconds * 1_000_000_000L) + d.Nanos));
    }

    private static IReadOnlyDictionary<string, AttributeValue> MapOf(MapField<string, Policy.Value> map, string instance, string field)
    {
        if (map.Count == 0)
        {
            return Empty;
        }

        var result = new Dictionary<string, AttributeValue>(map.Count, StringComparer.Ordinal);
        foreach (var (key, value) in map)
        {
            var v = ValueOf(value, instance, field, key);
            if (!v.IsEmpty)
            {
                result[key] = v;
            }
        }

        return result;
    }

    private static readonly IReadOnlyDictionary<string, AttributeValue> Empty = new Dictionary<string, AttributeValue>();
}

/// <summary>A field of an instance on the wire holds something no SDK value can be.</summary>
internal sealed class InstanceException(string instance, string field, string reason)
    : Exception($"instance '{instance}' field {field}: {reason}");
