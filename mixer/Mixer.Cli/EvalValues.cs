using System.Globalization;
using System.Net;
using System.Text.Json;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Cli;

/// <summary>Attribute values as mixc eval reads them (flags, JSON) and writes them (JSON).</summary>
internal static class EvalValues
{
    /// <summary>Reads <c>-s name=value</c> text as the manifest's type for the name.</summary>
    public static bool TryParseText(ValueType type, string text, out AttributeValue value, out string? error)
    {
        value = default;
        error = null;
        switch (type)
        {
            case ValueType.String:
                value = AttributeValue.String(text);
                return true;
            case ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri:
                value = AttributeValue.StringLike(type, text);
                return true;
            case ValueType.Int64 when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l):
                value = AttributeValue.Int64(l);
                return true;
            case ValueType.Double when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d):
                value = AttributeValue.Double(d);
                return true;
            case ValueType.Bool when bool.TryParse(text, out var b):
                value = AttributeValue.Bool(b);
                return true;
            case ValueType.Duration when GoDuration.TryParse(text, out var ns):
                value = AttributeValue.DurationNanos(ns);
                return true;
            case ValueType.Timestamp when Rfc3339.TryParse(text, out var s, out var n):
                value = AttributeValue.Timestamp(s, n);
                return true;
            case ValueType.IpAddress when IPAddress.TryParse(text, out var ip) && text.Contains(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? '.' : ':', StringComparison.Ordinal):
                value = AttributeValue.IpAddress(ip);
                return true;
            case ValueType.Bytes:
                try
                {
                    value = AttributeValue.Bytes(Convert.FromBase64String(text));
                    return true;
                }
                catch (FormatException)
                {
                    break;
                }

            case ValueType.StringMap:
                var entries = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var pair in text.Split(';', StringSplitOptions.RemoveEmptyEntries))
                {
                    var colon = pair.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0)
                    {
                        error = $"'{text}' is not a string map (write k1:v1;k2:v2)";
                        return false;
                    }

                    entries[pair[..colon]] = pair[(colon + 1)..];
                }

                value = AttributeValue.StringMap(new StringMapValue(entries));
                return true;
        }

        error = $"'{text}' is not a {type.ToIstioName()} value" + type switch
        {
            ValueType.Duration => " (examples: 10ms, 1.5s)",
            ValueType.Timestamp => " (example: 2018-07-31T12:00:00Z)",
            ValueType.Bool => " (true or false)",
            _ => string.Empty,
        };
        return false;
    }

    /// <summary>Reads a TYPED JSON object: <c>{"string": "x"}</c>, <c>{"int64": 3}</c>, <c>{"ip": "10.0.0.1"}</c>…</summary>
    public static bool TryParseJson(JsonElement typed, out AttributeValue value, out string? error)
    {
        value = default;
        error = null;
        if (typed.ValueKind != JsonValueKind.Object || typed.EnumerateObject().Count() != 1)
        {
            error = "an attribute value is an object with one key: string, int64, double, bool, timestamp, duration, ip, bytes, stringMap, email, uri or dns";
            return false;
        }

        var p = typed.EnumerateObject().First();
        var v = p.Value;
        try
        {
            switch (p.Name)
            {
                case "string" when v.ValueKind == JsonValueKind.String:
                    value = AttributeValue.String(v.GetString()!);
                    return true;
                case "email" when v.ValueKind == JsonValueKind.String:
                    value = AttributeValue.StringLike(ValueType.EmailAddress, v.GetString()!);
                    return true;
                case "uri" when v.ValueKind == JsonValueKind.String:
                    value = AttributeValue.StringLike(ValueType.Uri, v.GetString()!);
                    return true;
                case "dns" when v.ValueKind == JsonValueKind.String:
                    value = AttributeValue.StringLike(ValueType.DnsName, v.GetString()!);
                    return true;
                case "int64" when v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l):
                    value = AttributeValue.Int64(l);
                    return true;
                case "double" when v.ValueKind == JsonValueKind.Number:
                    value = AttributeValue.Double(v.GetDouble());
                    return true;
                case "bool" when v.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    value = AttributeValue.Bool(v.GetBoolean());
                    return true;
                case "timestamp" when v.ValueKind == JsonValueKind.String:
                    return TryParseText(ValueType.Timestamp, v.GetString()!, out value, out error);
                case "duration" when v.ValueKind == JsonValueKind.String:
                    return TryParseText(ValueType.Duration, v.GetString()!, out value, out error);
                case "ip" when v.ValueKind == JsonValueKind.String:
                    return TryParseText(ValueType.IpAddress, v.GetString()!, out value, out error);
                case "bytes" when v.ValueKind == JsonValueKind.String:
                    return TryParseText(ValueType.Bytes, v.GetString()!, out value, out error);
                case "stringMap" when v.ValueKind == JsonValueKind.Object:
                    var entries = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var e in v.EnumerateObject())
                    {
                        if (e.Value.ValueKind != JsonValueKind.String)
                        {
                            error = $"stringMap value of '{e.Name}' must be a string";
                            return false;
                        }

                        entries[e.Name] = e.Value.GetString()!;
                    }

                    value = AttributeValue.StringMap(new StringMapValue(entries));
                    return true;
            }
        }
        catch (FormatException e)
        {
            error = e.Message;
            return false;
        }

        error = $"'{p.Name}' with a JSON {v.ValueKind.ToString().ToLowerInvariant()} is not a typed value";
        return false;
    }

    /// <summary>Writes a value as TYPED JSON.</summary>
    public static void WriteJson(Utf8JsonWriter w, AttributeValue v)
    {
        w.WriteStartObject();
        switch (v.Type)
        {
            case ValueType.String:
                w.WriteString("string", v.AsString);
                break;
            case ValueType.EmailAddress:
                w.WriteString("email", v.AsString);
                break;
            case ValueType.Uri:
                w.WriteString("uri", v.AsString);
                break;
            case ValueType.DnsName:
                w.WriteString("dns", v.AsString);
                break;
            case ValueType.Int64:
                w.WriteNumber("int64", v.AsInt64);
                break;
            case ValueType.Double when double.IsFinite(v.AsDouble):
                w.WriteNumber("double", v.AsDouble);
                break;
            case ValueType.Double:
                w.WriteString("double", v.AsDouble.ToString(CultureInfo.InvariantCulture));
                break;
            case ValueType.Bool:
                w.WriteBoolean("bool", v.AsBool);
                break;
            case ValueType.Timestamp:
                w.WriteString("timestamp", Rfc3339.Format(v.TimestampSeconds, v.TimestampNanos));
                break;
            case ValueType.Duration:
                w.WriteString("duration", GoDuration.Format(v.AsDurationNanos));
                break;
            case ValueType.IpAddress:
                // As Go's net.IP prints: an IPv4-mapped IPv6 address in dotted form.
                var ip = v.AsBytes;
                var mapped = ip.Length == 16 && ip.AsSpan(0, 10).IndexOfAnyExcept((byte)0) < 0 && ip[10] == 0xff && ip[11] == 0xff;
                w.WriteString("ip", mapped ? new IPAddress(ip.AsSpan(12)).ToString() : v.ToString());
                break;
            case ValueType.Bytes:
                w.WriteString("bytes", Convert.ToBase64String(v.AsBytes));
                break;
            case ValueType.StringMap:
                w.WriteStartObject("stringMap");
                foreach (var (k, s) in v.AsStringMap.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    w.WriteString(k, s);
                }

                w.WriteEndObject();
                break;
        }

        w.WriteEndObject();
    }
}
