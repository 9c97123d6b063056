using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Mixer.Sdk;
using Mixer.Sdk.Templates;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Adapters.Elasticsearch;

/// <summary>One document to index: its index and its source, already JSON.</summary>
[JsonConverter(typeof(RawDocumentConverter))]
internal sealed class RawDocument(string index, byte[] json)
{
    public string Index { get; } = index;

    public byte[] Json { get; } = json;
}

/// <summary>Writes a <see cref="RawDocument"/>'s bytes as they are (the client's source serializer honours it).</summary>
internal sealed class RawDocumentConverter : JsonConverter<RawDocument>
{
    public override RawDocument Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("documents are only written");

    public override void Write(Utf8JsonWriter writer, RawDocument value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Json, skipInputValidation: true);
}

/// <summary>Turns instances into documents: fixed fields first, then variables (or tags), renamed by fieldNames.</summary>
internal sealed class DocumentWriter(ElasticsearchParams p, TimeProvider time)
{
    private readonly IndexPattern _index = IndexPattern.TryParse(p.Index, out _)!;

    public RawDocument LogEntry(LogEntryInstance e)
    {
        var at = When(e.Timestamp);
        return Write("logentry", e.Name, at, json =>
        {
            json.WriteString("instance", e.Name);
            if (e.Severity.Length > 0)
            {
                json.WriteString("severity", e.Severity);
            }

            if (e.MonitoredResourceType.Length > 0)
            {
                json.WriteString("monitoredResourceType", e.MonitoredResourceType);
            }

            if (e.MonitoredResourceDimensions.Count > 0)
            {
                json.WriteStartObject("monitoredResourceDimensions");
                Fields(json, e.MonitoredResourceDimensions, rename: false);
                json.WriteEndObject();
            }

            Fields(json, e.Variables, rename: true);
        });
    }

    public RawDocument TraceSpan(TraceSpanInstance s)
    {
        var start = When(s.StartTime);
        return Write("tracespan", s.Name, start, json =>
        {
            json.WriteString("instance", s.Name);
            json.WriteString("traceId", s.TraceId);
            json.WriteString("spanId", s.SpanId);
            json.WriteString("parentSpanId", s.ParentSpanId);
            json.WriteString("spanName", s.SpanName);
            json.WriteString("startTime", s.StartTime.Type == ValueType.Timestamp ? s.StartTime.ToString() : Rfc3339(start));
            if (s.EndTime.Type == ValueType.Timestamp && s.StartTime.Type == ValueType.Timestamp)
            {
                json.WriteString("endTime", s.EndTime.ToString());
                var nanos = ((s.EndTime.TimestampSeconds - s.StartTime.TimestampSeconds) * 1_000_000_000L) + (s.EndTime.TimestampNanos - s.StartTime.TimestampNanos);
                json.WriteNumber("durationMs", nanos / 1e6);
            }

            if (s.HttpStatusCode != 0)
            {
                json.WriteNumber("httpStatusCode", s.HttpStatusCode);
            }

            json.WriteBoolean("clientSpan", s.ClientSpan);
            json.WriteStartObject("tags");
            Fields(json, s.SpanTags, rename: true);
            json.WriteEndObject();
        });
    }

    private DateTimeOffset When(AttributeValue t) =>

        // The template's default (the epoch) means "not given": index it as of now.
        t.Type == ValueType.Timestamp && (t.TimestampSeconds != 0 || t.TimestampNanos != 0) ? t.AsTimestamp : time.GetUtcNow();

    private static string Rfc3339(DateTimeOffset t) => AttributeValue.Timestamp(t).ToString();

    private RawDocument Write(string template, string instance, DateTimeOffset at, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString(p.TimestampField, Rfc3339(at));
            body(json);
            json.WriteEndObject();
        }

        return new RawDocument(_index.Format(template, instance, at), buffer.WrittenSpan.ToArray());
    }

    private void Fields(Utf8JsonWriter json, IReadOnlyDictionary<string, AttributeValue> fields, bool rename)
    {
        foreach (var (k, v) in fields)
        {
            var name = rename && p.FieldNames.TryGetValue(k, out var renamed) ? renamed : k;
            if (name == p.TimestampField || (rename && name == "instance"))
            {
                // The fixed fields win: a variable may not overwrite them.
                continue;
            }

            Value(json, name, v);
        }
    }

    /// <summary>Typed JSON; durations in milliseconds, so that Elasticsearch can aggregate them.</summary>
    private static void Value(Utf8JsonWriter json, string name, AttributeValue v) => AttributeJson.Write(json, name, v, JsonDuration.Milliseconds);
}
