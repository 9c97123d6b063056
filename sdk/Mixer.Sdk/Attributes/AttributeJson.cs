using System.Globalization;
using System.Text.Json;

namespace Mixer.Sdk;

/// <summary>How <see cref="AttributeJson.Write"/> writes a duration.</summary>
public enum JsonDuration
{
    /// <summary>In Go's text form, as Istio prints it (<c>1.5ms</c>).</summary>
    Text,

    /// <summary>As a number of milliseconds (<c>1.5</c>), for backends that aggregate it.</summary>
    Milliseconds,
}

/// <summary>Writes attribute values as typed JSON, the way log and document adapters show them.</summary>
public static class AttributeJson
{
    /// <summary>
    /// Writes <paramref name="value"/> as the property <paramref name="name"/>: numbers and booleans
    /// as JSON numbers and booleans (a non-finite double as text), string maps as objects with their
    /// keys in ordinal order, an empty value as null, durations as <paramref name="durations"/> says,
    /// and everything else (strings, timestamps, addresses, bytes) in its text form.
    /// </summary>
    public static void Write(Utf8JsonWriter json, string name, AttributeValue value, JsonDuration durations = JsonDuration.Text)
    {
        ArgumentNullException.ThrowIfNull(json);
        switch (value.Type)
        {
            case ValueType.Int64:
                json.WriteNumber(name, value.AsInt64);
                break;
            case ValueType.Double when double.IsFinite(value.AsDouble):
                json.WriteNumber(name, value.AsDouble);
                break;
            case ValueType.Double:
                json.WriteString(name, value.AsDouble.ToString(CultureInfo.InvariantCulture));
                break;
            case ValueType.Bool:
                json.WriteBoolean(name, value.AsBool);
                break;
            case ValueType.Duration when durations == JsonDuration.Milliseconds:
                json.WriteNumber(name, value.AsDurationNanos / 1e6);
                break;
            case ValueType.StringMap:
                json.WriteStartObject(name);
                foreach (var (k, s) in value.AsStringMap.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    json.WriteString(k, s);
                }

                json.WriteEndObject();
                break;
            case ValueType.Unspecified:
                json.WriteNull(name);
                break;
            default:
                json.WriteString(name, value.Type.IsStringLike() ? value.AsString : value.ToString());
                break;
        }
    }
}
