using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Adapters.Stdio;

internal sealed class StdioHandler : ILogEntryHandler, IMetricHandler
{
    private static readonly Dictionary<string, Level> DefaultSeverities = new(StringComparer.Ordinal)
    {
        ["INFO"] = Level.Info,
        ["info"] = Level.Info,
        ["INFORMATIONAL"] = Level.Info,
        ["informational"] = Level.Info,
        ["WARNING"] = Level.Warning,
        ["warning"] = Level.Warning,
        ["WARN"] = Level.Warning,
        ["warn"] = Level.Warning,
        ["ERROR"] = Level.Error,
        ["error"] = Level.Error,
        ["ERR"] = Level.Error,
        ["err"] = Level.Error,
        ["FATAL"] = Level.Error,
        ["fatal"] = Level.Error,
    };

    private readonly StdioParams _params;
    private readonly Dictionary<string, Level> _severities;
    private readonly Dictionary<string, Level> _severitiesIgnoringCase;
    private readonly LineWriter _writer;
    private readonly TimeProvider _time;

    public StdioHandler(StdioParams p, LineWriter writer, TimeProvider time)
    {
        _params = p;
        _severities = p.SeverityLevels is { Count: > 0 } s ? new Dictionary<string, Level>(s, StringComparer.Ordinal) : DefaultSeverities;
        _severitiesIgnoringCase = new Dictionary<string, Level>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in _severities)
        {
            _severitiesIgnoringCase.TryAdd(k, v);
        }

        _writer = writer;
        _time = time;
    }

    /// <summary>Lines dropped because the queue was full.</summary>
    public long DroppedCount => _writer.DroppedCount;

    /// <summary>Lines written out.</summary>
    public long WrittenCount => _writer.WrittenCount;

    public ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken)
    {
        foreach (var e in instances)
        {
            // Istio looks severities up case-sensitively, so its own Helm config's "Warning" came out
            // as INFO; we fall back to a case-insensitive match. Unknown severities are INFO.
            var level = _severities.TryGetValue(e.Severity, out var l) || _severitiesIgnoringCase.TryGetValue(e.Severity, out l) ? l : Level.Info;
            if (level < _params.OutputLevel)
            {
                continue;
            }

            var time = e.Timestamp.Type == ValueType.Timestamp ? e.Timestamp : AttributeValue.Timestamp(_time.GetUtcNow());
            _writer.TryEnqueue(Format(level, time, e.Name, null, e.Variables));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken)
    {
        if (_params.MetricLevel < _params.OutputLevel)
        {
            return ValueTask.CompletedTask;
        }

        var now = AttributeValue.Timestamp(_time.GetUtcNow());
        foreach (var m in instances)
        {
            _writer.TryEnqueue(Format(_params.MetricLevel, now, m.Name, m.Value, m.Dimensions));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();

    private static string LevelName(Level level) => level switch
    {
        Level.Warning => "warn",
        Level.Error => "error",
        _ => "info",
    };

    private string Format(Level level, AttributeValue time, string instance, AttributeValue? value, IReadOnlyDictionary<string, AttributeValue> fields)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (_params.OutputAsJson)
            {
                json.WriteString("level", LevelName(level));
                json.WriteString("time", time.ToString());
                json.WriteString("instance", instance);
            }

            if (value is { } v)
            {
                WriteValue(json, "value", v);
            }

            foreach (var (k, fv) in fields.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                WriteValue(json, k, fv);
            }

            json.WriteEndObject();
        }

        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);

        // The console form: time, level and instance as columns, then the fields as JSON.
        return _params.OutputAsJson ? text : string.Join('\t', time.ToString(), LevelName(level), instance, text);
    }

    private static void WriteValue(Utf8JsonWriter json, string name, AttributeValue v) => AttributeJson.Write(json, name, v);
}
