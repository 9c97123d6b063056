using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Mixer.Client;
using Mixer.Sdk;
using ProtoDuration = Google.Protobuf.WellKnownTypes.Duration;

namespace Mixer.Cli;

/// <summary>
/// Writes answers as Istio's mixc does (text), or as one JSON object per line. Several workers may
/// write at once: each answer is written whole, under a lock.
/// </summary>
internal sealed class ApiOutput(TextWriter output, bool json)
{
    private readonly Lock _lock = new();

    public bool Json => json;

    public void Write(Action<StringBuilder> text, Action<Utf8JsonWriter> jsonBody)
    {
        string rendered;
        if (json)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                jsonBody(w);
                w.WriteEndObject();
            }

            rendered = Encoding.UTF8.GetString(buffer.ToArray()) + Environment.NewLine;
        }
        else
        {
            var sb = new StringBuilder();
            text(sb);
            rendered = sb.ToString();
        }

        lock (_lock)
        {
            output.Write(rendered);
            output.Flush();
        }
    }

    /// <summary>A call that failed at the gRPC level; <paramref name="lead"/> starts the text line.</summary>
    public void WriteFailure(string lead, RpcException e) => Write(
        sb => sb.Append(lead).AppendLine(ApiRunner.Describe(e)),
        w =>
        {
            w.WritePropertyName("error");
            WriteStatus(w, (int)e.StatusCode, UpperSnake(e.StatusCode.ToString()), e.Status.Detail);
        });

    /// <summary><c>{"code": 0, "name": "OK", "message": ""}</c>: google.rpc.Status with the code's name.</summary>
    public static void WriteStatus(Utf8JsonWriter w, int code, string name, string message)
    {
        w.WriteStartObject();
        w.WriteNumber("code", code);
        w.WriteString("name", name);
        w.WriteString("message", message);
        w.WriteEndObject();
    }

    /// <summary>Istio mixc's form of google.rpc.Status: the code's name, then the message in parentheses.</summary>
    public static string Describe(Google.Rpc.Status? status)
    {
        var code = status?.Code ?? 0;
        var name = CodeName(code);
        return string.IsNullOrEmpty(status?.Message) ? name : $"{name} ({status.Message})";
    }

    /// <summary>The google.rpc.Code name (<c>PERMISSION_DENIED</c>), or <c>Code N</c> for a number that has none.</summary>
    public static string CodeName(int code) =>
        Enum.IsDefined((Google.Rpc.Code)code) ? UpperSnake(((Google.Rpc.Code)code).ToString()) : $"Code {code}";

    /// <summary>Go's form of a duration (<c>1m0s</c>), as Istio's mixc prints them.</summary>
    public static string GoText(ProtoDuration? d) => GoDuration.Format(Nanos(d));

    /// <summary>The protobuf JSON form of a duration (<c>"60s"</c>, <c>"0.500s"</c>).</summary>
    public static void WriteDuration(Utf8JsonWriter w, string name, ProtoDuration? d) =>
        w.WriteString(name, JsonFormatter.Default.Format(d ?? new ProtoDuration()).Trim('"'));

    public static void WriteReferences(Utf8JsonWriter w, IReadOnlyList<ReferencedAttribute> references)
    {
        w.WriteStartArray("referencedAttributes");
        foreach (var r in references)
        {
            w.WriteStartObject();
            w.WriteString("name", r.Name);
            if (r.MapKey is not null)
            {
                w.WriteString("mapKey", r.MapKey);
            }

            w.WriteString("condition", r.ConditionName);
            if (r.Regex is not null)
            {
                w.WriteString("regex", r.Regex);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>Lines of cells aligned in columns, as Go's tabwriter with padding 2 (the last cell is not padded).</summary>
    public static void AppendTable(StringBuilder sb, IReadOnlyList<string[]> rows)
    {
        var widths = new int[rows.Max(r => r.Length)];
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length - 1; c++)
            {
                widths[c] = Math.Max(widths[c], row[c].Length + 2);
            }
        }

        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
            {
                sb.Append(c < row.Length - 1 ? row[c].PadRight(widths[c]) : row[c]);
            }

            sb.AppendLine();
        }
    }

    private static long Nanos(ProtoDuration? d) => d is null ? 0 : checked((d.Seconds * 1_000_000_000L) + d.Nanos);

    private static string UpperSnake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            if (i > 0 && char.IsUpper(pascal[i]) && char.IsLower(pascal[i - 1]))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(pascal[i]));
        }

        return sb.ToString();
    }
}
