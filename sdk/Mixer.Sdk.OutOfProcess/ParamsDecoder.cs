using Mixer.Sdk.Adapters;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Mixer.Sdk.Remote;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>
/// Turns the <c>adapter_config</c> of a request (a <c>google.protobuf.Any</c>) into the JSON an
/// adapter's <c>Validate</c> and <c>BuildAsync</c> read, the same JSON the in-process path gives:
/// every key camelCased, whole numbers as JSON integers.
/// </summary>
/// <remarks>
/// Two encodings arrive. Mixer.NET's mixs sends the handler's YAML <c>params</c> as a
/// <c>google.protobuf.Struct</c>. Istio 1.0's Mixer (and mixs for an <c>adapter</c> resource that
/// carries a <c>config</c> descriptor) sends the adapter's own <c>Params</c> message, encoded with
/// that descriptor; it is decoded with the message descriptor the adapter author registered in
/// <see cref="AdapterHostOptions.ParamsDescriptor"/>, or with the descriptor set of
/// <see cref="AdapterHostOptions.ParamsDescriptorSet"/> (the <c>adapter</c> resource's own
/// <c>config</c> text) when there is no compiled class for it.
/// </remarks>
internal sealed class ParamsDecoder(MessageDescriptor? paramsDescriptor, ParamsCodec? paramsCodec = null)
{
    private static readonly JsonFormatter s_formatter = new(JsonFormatter.Settings.Default);

    /// <summary>Decodes <paramref name="config"/>; throws <see cref="ParamsException"/> saying why it cannot.</summary>
    public JsonElement Decode(Any? config)
    {
        if (config is null || (config.TypeUrl.Length == 0 && config.Value.IsEmpty))
        {
            return EmptyObject();
        }

        var typeName = Any.GetTypeName(config.TypeUrl);
        if (typeName == Struct.Descriptor.FullName)
        {
            Struct s;
            try
            {
                s = Struct.Parser.ParseFrom(config.Value);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new ParamsException($"adapter_config is not a valid google.protobuf.Struct: {e.Message}");
            }

            return Json(w => WriteStruct(w, s));
        }

        if (paramsDescriptor is not null && typeName == paramsDescriptor.FullName)
        {
            IMessage message;
            try
            {
                message = paramsDescriptor.Parser.ParseFrom(config.Value);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new ParamsException($"adapter_config is not a valid {typeName}: {e.Message}");
            }

            // The formatter writes proto3 JSON (lowerCamel field names, Go-style "1.5s"
            // durations, enum names, 64-bit integers as strings); AdapterParams reads all of it.
            using var doc = JsonDocument.Parse(s_formatter.Format(message));
            return Json(w => WriteNormalised(w, doc.RootElement));
        }

        if (paramsCodec is not null && typeName == paramsCodec.MessageName)
        {
            JsonElement decoded;
            try
            {
                decoded = paramsCodec.Decode(config.Value.Span);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new ParamsException($"adapter_config is not a valid {typeName}: {e.Message}");
            }

            return Json(w => WriteNormalised(w, decoded));
        }

        var accepted = string.Join(" or ", new[] { ParamsCodec.StructTypeUrl, paramsDescriptor?.FullName, paramsCodec?.MessageName }
            .Where(n => n is not null)
            .Select(n => n!.StartsWith("type.", StringComparison.Ordinal) ? n : ParamsCodec.TypeUrlPrefix + n)
            .Distinct(StringComparer.Ordinal));
        throw new ParamsException($"adapter_config has type '{config.TypeUrl}'; this adapter reads {accepted}");
    }


    private static JsonElement EmptyObject()
    {
        using var doc = JsonDocument.Parse("{}");
        return doc.RootElement.Clone();
    }

    private static JsonElement Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }

        using var doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }

    private static void WriteStruct(Utf8JsonWriter w, Struct s)
    {
        w.WriteStartObject();
        foreach (var (key, value) in s.Fields)
        {
            w.WritePropertyName(AdapterParams.CamelCase(key));
            WriteValue(w, value);
        }

        w.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter w, Value v)
    {
        switch (v.KindCase)
        {
            case Value.KindOneofCase.StructValue:
                WriteStruct(w, v.StructValue);
                break;
            case Value.KindOneofCase.ListValue:
                w.WriteStartArray();
                foreach (var item in v.ListValue.Values)
                {
                    WriteValue(w, item);
                }

                w.WriteEndArray();
                break;
            case Value.KindOneofCase.StringValue:
                w.WriteStringValue(v.StringValue);
                break;
            case Value.KindOneofCase.BoolValue:
                w.WriteBooleanValue(v.BoolValue);
                break;
            case Value.KindOneofCase.NumberValue:
                WriteNumber(w, v.NumberValue);
                break;
            default:
                w.WriteNullValue();
                break;
        }
    }

    // A Struct holds every number as a double; YAML's 200 must reach an int field as 200, not 200.0.
    private static void WriteNumber(Utf8JsonWriter w, double d)
    {
        if (!double.IsFinite(d))
        {
            w.WriteStringValue(d.ToString(CultureInfo.InvariantCulture));
        }
        else if (Math.Floor(d) == d && Math.Abs(d) <= 9_007_199_254_740_992d)
        {
            w.WriteNumberValue((long)d);
        }
        else
        {
            w.WriteNumberValue(d);
        }
    }

    private static void WriteNormalised(Utf8JsonWriter w, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in e.EnumerateObject())
                {
                    w.WritePropertyName(AdapterParams.CamelCase(p.Name));
                    WriteNormalised(w, p.Value);
                }

                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray())
                {
                    WriteNormalised(w, item);
                }

                w.WriteEndArray();
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }
}

/// <summary>The adapter_config of a request cannot be read as params.</summary>
internal sealed class ParamsException(string message) : Exception(message);
