using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Mixer.Sdk.Adapters;
using Type = Google.Protobuf.Reflection.FieldDescriptorProto.Types.Type;

namespace Mixer.Sdk.Remote;

/// <summary>
/// Encodes a handler's params (the JSON form of its YAML) into the protobuf bytes of an adapter's
/// config message, and decodes those bytes back to JSON, driven only by the adapter's
/// <c>FileDescriptorSet</c>: the config an out-of-process adapter publishes in its <c>adapter</c>
/// resource (<c>spec.config</c>, base64). This is what Istio 1.0's Mixer does with the message
/// named <c>Params</c> of that set before it sends it as the <c>adapter_config</c> Any of every
/// Handle call (or of <c>Validate</c>/<c>CreateSession</c> for session-based adapters).
/// </summary>
/// <remarks>
/// Supported: every scalar type, strings, bytes (base64), enums (by name or number), nested
/// messages, repeated fields (packed or not), maps, and the well-known types
/// <c>google.protobuf.Duration</c> (Go duration text such as <c>1m30s</c>, or <c>1.5s</c>),
/// <c>google.protobuf.Timestamp</c> (RFC 3339), <c>Struct</c>/<c>Value</c>/<c>ListValue</c>
/// (any JSON) and the wrapper types (<c>Int64Value</c>…, as their scalar). JSON keys may be the
/// proto field name (<c>max_amount</c>) or its JSON name (<c>maxAmount</c>). A field the message
/// does not have is an error, as it is for Istio.
/// </remarks>
public sealed class ParamsCodec
{
    /// <summary>The prefix of an Any's type URL.</summary>
    public const string TypeUrlPrefix = "type.googleapis.com/";

    /// <summary>
    /// The type URL of params sent as <c>google.protobuf.Struct</c>: what Mixer sends when the
    /// adapter resource publishes no config descriptor, so that a C# adapter still gets its params.
    /// </summary>
    public const string StructTypeUrl = TypeUrlPrefix + "google.protobuf.Struct";

    /// <summary>The name Istio looks for in an adapter's config descriptor.</summary>
    public const string AdapterConfigMessageName = "Params";

    private readonly Dictionary<string, DescriptorProto> _messages;
    private readonly Dictionary<string, EnumDescriptorProto> _enums;
    private readonly DescriptorProto _root;

    private ParamsCodec(Dictionary<string, DescriptorProto> messages, Dictionary<string, EnumDescriptorProto> enums, string fullName)
    {
        _messages = messages;
        _enums = enums;
        MessageName = fullName;
        _root = messages["." + fullName];
    }

    /// <summary>The config message's full name, e.g. <c>adapter.mygrpc.config.Params</c>.</summary>
    public string MessageName { get; }

    /// <summary>The type URL of the Any that carries the encoded params: <c>type.googleapis.com/</c> + <see cref="MessageName"/>.</summary>
    public string TypeUrl => TypeUrlPrefix + MessageName;

    /// <summary>
    /// Reads an adapter resource's <c>config</c> (a base64 <c>FileDescriptorSet</c>) as Istio does:
    /// the message named <c>Params</c> in any file of the set is the config message. Returns null
    /// with no error when <paramref name="base64DescriptorSet"/> is empty (an adapter without params).
    /// </summary>
    /// <param name="base64DescriptorSet">The base64 text of a serialized FileDescriptorSet.</param>
    /// <param name="error">Why the descriptor cannot be used; null when it can.</param>
    public static ParamsCodec? FromAdapterConfig(string? base64DescriptorSet, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(base64DescriptorSet))
        {
            return null;
        }

        FileDescriptorSet set;
        try
        {
            set = FileDescriptorSet.Parser.ParseFrom(Convert.FromBase64String(base64DescriptorSet.Trim()));
        }
        catch (FormatException)
        {
            error = "is not base64 text (expected the base64 of a serialized google.protobuf.FileDescriptorSet)";
            return null;
        }
        catch (InvalidProtocolBufferException e)
        {
            error = $"is not a serialized google.protobuf.FileDescriptorSet: {e.Message}";
            return null;
        }

        string? found = null;
        foreach (var file in set.File)
        {
            foreach (var message in file.MessageType)
            {
                if (message.Name == AdapterConfigMessageName)
                {
                    found = string.IsNullOrEmpty(file.Package) ? message.Name : file.Package + "." + message.Name;
                }
            }
        }

        if (found is null)
        {
            error = $"cannot find a message named '{AdapterConfigMessageName}' in the adapter configuration descriptor";
            return null;
        }

        return FromDescriptorSet(set, found);
    }

    /// <summary>A codec for the message <paramref name="messageFullName"/> (e.g. <c>my.pkg.Params</c>) of <paramref name="set"/>.</summary>
    /// <exception cref="ArgumentException">The set has no such message.</exception>
    public static ParamsCodec FromDescriptorSet(FileDescriptorSet set, string messageFullName)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(messageFullName);
        var messages = new Dictionary<string, DescriptorProto>(StringComparer.Ordinal);
        var enums = new Dictionary<string, EnumDescriptorProto>(StringComparer.Ordinal);
        foreach (var file in set.File)
        {
            var prefix = string.IsNullOrEmpty(file.Package) ? "." : "." + file.Package + ".";
            foreach (var m in file.MessageType)
            {
                Index(prefix, m, messages, enums);
            }

            foreach (var e in file.EnumType)
            {
                enums[prefix + e.Name] = e;
            }
        }

        var name = messageFullName.TrimStart('.');
        if (!messages.ContainsKey("." + name))
        {
            throw new ArgumentException($"the descriptor set has no message '{name}'", nameof(messageFullName));
        }

        return new ParamsCodec(messages, enums, name);
    }

    /// <summary>
    /// Encodes <paramref name="parameters"/> (a JSON object; null or absent means all defaults)
    /// as the config message. Every problem is added to <paramref name="problems"/> with its field
    /// path (<c>backends[1].port</c>); the bytes are meaningful only when none was added.
    /// </summary>
    public byte[] Encode(JsonElement parameters, ICollection<ConfigProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (parameters.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return [];
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new ConfigProblem(string.Empty, $"params must be a map of the fields of {MessageName}, not {Kind(parameters)}"));
            return [];
        }

        return EncodeMessage(_root, MessageName, parameters, string.Empty, problems);
    }

    /// <summary>Encodes <paramref name="parameters"/> and wraps it in an Any of <see cref="TypeUrl"/>.</summary>
    public Any Pack(JsonElement parameters, ICollection<ConfigProblem> problems) =>
        new() { TypeUrl = TypeUrl, Value = ByteString.CopyFrom(Encode(parameters, problems)) };

    /// <summary>
    /// Decodes the config message from <paramref name="data"/> to JSON: fields by their JSON
    /// (lowerCamel) names, enums by name, bytes in base64, durations as <c>1.5s</c>, timestamps
    /// in RFC 3339, 64-bit integers as JSON numbers. Fields left at their default are omitted.
    /// </summary>
    /// <exception cref="InvalidProtocolBufferException">The bytes are not a valid encoding.</exception>
    public JsonElement Decode(ReadOnlySpan<byte> data)
    {
        var node = DecodeMessage(_root, MessageName, data.ToArray());
        return JsonSerializer.SerializeToElement(node);
    }

    /// <summary>Params as a <c>google.protobuf.Struct</c>: what is sent when an adapter publishes no config descriptor.</summary>
    public static Struct ToStruct(JsonElement parameters) =>
        parameters.ValueKind == JsonValueKind.Object ? JsonParser.Default.Parse<Struct>(parameters.GetRawText()) : new Struct();

    /// <summary>A <c>google.protobuf.Struct</c> as JSON.</summary>
    public static JsonElement FromStruct(Struct value)
    {
        ArgumentNullException.ThrowIfNull(value);
        using var doc = JsonDocument.Parse(JsonFormatter.Default.Format(value));
        return doc.RootElement.Clone();
    }

    /// <summary>
    /// Decodes an Any's params: <c>google.protobuf.Struct</c> as its JSON, a config message with
    /// <paramref name="codec"/>, an empty Any as an empty object.
    /// </summary>
    /// <exception cref="InvalidOperationException">The Any holds neither a Struct nor the codec's message.</exception>
    public static JsonElement Unpack(Any? value, ParamsCodec? codec)
    {
        if (value is null || (value.TypeUrl.Length == 0 && value.Value.IsEmpty))
        {
            return JsonSerializer.SerializeToElement(new JsonObject());
        }

        var typeName = value.TypeUrl[(value.TypeUrl.LastIndexOf('/') + 1)..];
        if (typeName == "google.protobuf.Struct")
        {
            return FromStruct(Struct.Parser.ParseFrom(value.Value));
        }

        if (codec is not null && typeName == codec.MessageName)
        {
            return codec.Decode(value.Value.Span);
        }

        throw new InvalidOperationException($"adapter config of type '{value.TypeUrl}' cannot be read (expected {StructTypeUrl}{(codec is null ? string.Empty : " or " + codec.TypeUrl)})");
    }

    private static void Index(string prefix, DescriptorProto message, Dictionary<string, DescriptorProto> messages, Dictionary<string, EnumDescriptorProto> enums)
    {
        var name = prefix + message.Name;
        messages[name] = message;
        foreach (var nested in message.NestedType)
        {
            Index(name + ".", nested, messages, enums);
        }

        foreach (var e in message.EnumType)
        {
            enums[name + "." + e.Name] = e;
        }
    }

    private static string JsonName(FieldDescriptorProto field) => field.HasJsonName && field.JsonName.Length > 0 ? field.JsonName : LowerCamel(field.Name);

    private static string LowerCamel(string name)
    {
        var sb = new StringBuilder(name.Length);
        var upper = false;
        foreach (var c in name)
        {
            if (c == '_')
            {
                upper = true;
                continue;
            }

            sb.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        return sb.ToString();
    }

    private static string Normalize(string key) => key.Replace("_", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "a map",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    private bool IsMap(FieldDescriptorProto field, out DescriptorProto entry)
    {
        entry = null!;
        return field.Label == FieldDescriptorProto.Types.Label.Repeated
            && field.Type == Type.Message
            && _messages.TryGetValue(field.TypeName, out entry!)
            && entry.Options?.MapEntry == true;
    }

    private byte[] EncodeMessage(DescriptorProto message, string messageName, JsonElement json, string path, ICollection<ConfigProblem> problems)
    {
        // Fields go out in field-number order, as protobuf serializers write them.
        var values = new List<(FieldDescriptorProto Field, JsonElement Value, string Path)>();
        foreach (var property in json.EnumerateObject())
        {
            var field = message.Field.FirstOrDefault(f => f.Name == property.Name || JsonName(f) == property.Name)
                ?? message.Field.FirstOrDefault(f => Normalize(f.Name) == Normalize(property.Name));
            var fieldPath = Join(path, property.Name);
            if (field is null)
            {
                var known = message.Field.Count == 0 ? "it has no fields" : "its fields are " + string.Join(", ", message.Field.Select(JsonName));
                problems.Add(new ConfigProblem(fieldPath, $"unknown field of {messageName}; {known}"));
                continue;
            }

            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            values.Add((field, property.Value, fieldPath));
        }

        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        foreach (var (field, value, fieldPath) in values.OrderBy(v => v.Field.Number))
        {
            if (IsMap(field, out var entry))
            {
                if (value.ValueKind != JsonValueKind.Object)
                {
                    problems.Add(new ConfigProblem(fieldPath, $"must be a map, not {Kind(value)}"));
                    continue;
                }

                var keyField = entry.Field.First(f => f.Number == 1);
                var valueField = entry.Field.First(f => f.Number == 2);
                foreach (var item in value.EnumerateObject())
                {
                    var itemPath = Join(fieldPath, item.Name);
                    using var entryBuffer = new MemoryStream();
                    var entryOutput = new CodedOutputStream(entryBuffer);
                    using (var keyDoc = JsonDocument.Parse(JsonSerializer.Serialize(item.Name)))
                    {
                        WriteSingle(entryOutput, keyField, keyDoc.RootElement, itemPath, problems);
                    }

                    if (item.Value.ValueKind != JsonValueKind.Null)
                    {
                        WriteSingle(entryOutput, valueField, item.Value, itemPath, problems);
                    }

                    entryOutput.Flush();
                    output.WriteTag(field.Number, WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(ByteString.CopyFrom(entryBuffer.ToArray()));
                }

                continue;
            }

            if (field.Label == FieldDescriptorProto.Types.Label.Repeated)
            {
                if (value.ValueKind != JsonValueKind.Array)
                {
                    problems.Add(new ConfigProblem(fieldPath, $"must be a list, not {Kind(value)}"));
                    continue;
                }

                if (IsPackable(field.Type))
                {
                    using var packed = new MemoryStream();
                    var packedOutput = new CodedOutputStream(packed);
                    var i = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        WriteScalar(packedOutput, field, item, $"{fieldPath}[{i++}]", problems, withTag: false);
                    }

                    packedOutput.Flush();
                    if (packed.Length > 0)
                    {
                        output.WriteTag(field.Number, WireFormat.WireType.LengthDelimited);
                        output.WriteBytes(ByteString.CopyFrom(packed.ToArray()));
                    }

                    continue;
                }

                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    WriteSingle(output, field, item, $"{fieldPath}[{index++}]", problems);
                }

                continue;
            }

            WriteSingle(output, field, value, fieldPath, problems);
        }

        output.Flush();
        return buffer.ToArray();
    }

    private static bool IsPackable(Type type) => type is not (Type.String or Type.Bytes or Type.Message or Type.Group);

    private void WriteSingle(CodedOutputStream output, FieldDescriptorProto field, JsonElement value, string path, ICollection<ConfigProblem> problems)
    {
        if (field.Type is Type.Message)
        {
            var bytes = EncodeNested(field, value, path, problems);
            if (bytes is not null)
            {
                output.WriteTag(field.Number, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(bytes));
            }

            return;
        }

        if (field.Type is Type.Group)
        {
            problems.Add(new ConfigProblem(path, "groups are not supported"));
            return;
        }

        WriteScalar(output, field, value, path, problems, withTag: true);
    }

    private byte[]? EncodeNested(FieldDescriptorProto field, JsonElement value, string path, ICollection<ConfigProblem> problems)
    {
        var typeName = field.TypeName.TrimStart('.');
        switch (typeName)
        {
            case "google.protobuf.Duration":
                if (value.ValueKind == JsonValueKind.String && GoDuration.TryParse(value.GetString()!, out var nanos))
                {
                    return new Duration { Seconds = nanos / 1_000_000_000, Nanos = (int)(nanos % 1_000_000_000) }.ToByteArray();
                }

                if (value.ValueKind == JsonValueKind.Object)
                {
                    break;
                }

                problems.Add(new ConfigProblem(path, $"must be a duration such as 500ms, 5s or 1m30s, not {Describe(value)}"));
                return null;
            case "google.protobuf.Timestamp":
                if (value.ValueKind == JsonValueKind.String && Rfc3339.TryParse(value.GetString()!, out var seconds, out var n))
                {
                    return new Timestamp { Seconds = seconds, Nanos = n }.ToByteArray();
                }

                if (value.ValueKind == JsonValueKind.Object)
                {
                    break;
                }

                problems.Add(new ConfigProblem(path, $"must be an RFC 3339 timestamp such as 2018-07-31T12:00:00Z, not {Describe(value)}"));
                return null;
            case "google.protobuf.Struct":
            case "google.protobuf.Value":
            case "google.protobuf.ListValue":
                return EncodeJsonWellKnown(typeName, value, path, problems);
            case "google.protobuf.Any":
                problems.Add(new ConfigProblem(path, "google.protobuf.Any params cannot be written in YAML"));
                return null;
            default:
                if (WrapperType(typeName) is { } wrapped)
                {
                    using var buffer = new MemoryStream();
                    var output = new CodedOutputStream(buffer);
                    WriteScalar(output, new FieldDescriptorProto { Name = "value", Number = 1, Type = wrapped }, value, path, problems, withTag: true);
                    output.Flush();
                    return buffer.ToArray();
                }

                break;
        }

        if (!_messages.TryGetValue(field.TypeName, out var nested))
        {
            problems.Add(new ConfigProblem(path, $"the descriptor does not define {typeName}, the type of this field"));
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new ConfigProblem(path, $"must be a map of the fields of {typeName}, not {Kind(value)}"));
            return null;
        }

        return EncodeMessage(nested, typeName, value, path, problems);
    }

    private static byte[]? EncodeJsonWellKnown(string typeName, JsonElement value, string path, ICollection<ConfigProblem> problems)
    {
        try
        {
            var raw = value.GetRawText();
            return typeName switch
            {
                "google.protobuf.Struct" when value.ValueKind == JsonValueKind.Object => JsonParser.Default.Parse<Struct>(raw).ToByteArray(),
                "google.protobuf.ListValue" when value.ValueKind == JsonValueKind.Array => JsonParser.Default.Parse<ListValue>(raw).ToByteArray(),
                "google.protobuf.Value" => JsonParser.Default.Parse<Value>(raw).ToByteArray(),
                _ => Fail(),
            };
        }
        catch (InvalidProtocolBufferException e)
        {
            problems.Add(new ConfigProblem(path, e.Message));
            return null;
        }

        byte[]? Fail()
        {
            problems.Add(new ConfigProblem(path, $"must be {(typeName.EndsWith("Struct", StringComparison.Ordinal) ? "a map" : "a list")}, not {Kind(value)}"));
            return null;
        }
    }

    private static Type? WrapperType(string typeName) => typeName switch
    {
        "google.protobuf.DoubleValue" => Type.Double,
        "google.protobuf.FloatValue" => Type.Float,
        "google.protobuf.Int64Value" => Type.Int64,
        "google.protobuf.UInt64Value" => Type.Uint64,
        "google.protobuf.Int32Value" => Type.Int32,
        "google.protobuf.UInt32Value" => Type.Uint32,
        "google.protobuf.BoolValue" => Type.Bool,
        "google.protobuf.StringValue" => Type.String,
        "google.protobuf.BytesValue" => Type.Bytes,
        _ => null,
    };

    private static string Describe(JsonElement value) => value.ValueKind == JsonValueKind.String ? $"'{value.GetString()}'" : Kind(value);

    /// <summary>The text of a scalar: strings as they are, numbers and booleans as YAML wrote them.</summary>
    private static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    private void WriteScalar(CodedOutputStream output, FieldDescriptorProto field, JsonElement value, string path, ICollection<ConfigProblem> problems, bool withTag)
    {
        var text = Text(value);
        if (text is null)
        {
            problems.Add(new ConfigProblem(path, $"must be {Expected(field)}, not {Kind(value)}"));
            return;
        }

        void Tag(WireFormat.WireType wire)
        {
            if (withTag)
            {
                output.WriteTag(field.Number, wire);
            }
        }

        bool Bad()
        {
            problems.Add(new ConfigProblem(path, $"must be {Expected(field)}, not {Describe(value)}"));
            return false;
        }

        const NumberStyles integer = NumberStyles.AllowLeadingSign;
        var inv = CultureInfo.InvariantCulture;
        switch (field.Type)
        {
            case Type.String:
                Tag(WireFormat.WireType.LengthDelimited);
                output.WriteString(text);
                break;
            case Type.Bytes:
                try
                {
                    var bytes = Convert.FromBase64String(text);
                    Tag(WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(ByteString.CopyFrom(bytes));
                }
                catch (FormatException)
                {
                    Bad();
                }

                break;
            case Type.Bool:
                if (bool.TryParse(text, out var b))
                {
                    Tag(WireFormat.WireType.Varint);
                    output.WriteBool(b);
                }
                else
                {
                    Bad();
                }

                break;
            case Type.Double or Type.Float:
                if (TryDouble(text, out var d))
                {
                    if (field.Type == Type.Double)
                    {
                        Tag(WireFormat.WireType.Fixed64);
                        output.WriteDouble(d);
                    }
                    else
                    {
                        Tag(WireFormat.WireType.Fixed32);
                        output.WriteFloat((float)d);
                    }
                }
                else
                {
                    Bad();
                }

                break;
            case Type.Int64 or Type.Sint64 or Type.Sfixed64:
                if (long.TryParse(text, integer, inv, out var l))
                {
                    switch (field.Type)
                    {
                        case Type.Int64:
                            Tag(WireFormat.WireType.Varint);
                            output.WriteInt64(l);
                            break;
                        case Type.Sint64:
                            Tag(WireFormat.WireType.Varint);
                            output.WriteSInt64(l);
                            break;
                        default:
                            Tag(WireFormat.WireType.Fixed64);
                            output.WriteSFixed64(l);
                            break;
                    }
                }
                else
                {
                    Bad();
                }

                break;
            case Type.Uint64 or Type.Fixed64:
                if (ulong.TryParse(text, NumberStyles.None, inv, out var ul))
                {
                    if (field.Type == Type.Uint64)
                    {
                        Tag(WireFormat.WireType.Varint);
                        output.WriteUInt64(ul);
                    }
                    else
                    {
                        Tag(WireFormat.WireType.Fixed64);
                        output.WriteFixed64(ul);
                    }
                }
                else
                {
                    Bad();
                }

                break;
            case Type.Int32 or Type.Sint32 or Type.Sfixed32:
                if (int.TryParse(text, integer, inv, out var i))
                {
                    switch (field.Type)
                    {
                        case Type.Int32:
                            Tag(WireFormat.WireType.Varint);
                            output.WriteInt32(i);
                            break;
                        case Type.Sint32:
                            Tag(WireFormat.WireType.Varint);
                            output.WriteSInt32(i);
                            break;
                        default:
                            Tag(WireFormat.WireType.Fixed32);
                            output.WriteSFixed32(i);
                            break;
                    }
                }
                else
                {
                    Bad();
                }

                break;
            case Type.Uint32 or Type.Fixed32:
                if (uint.TryParse(text, NumberStyles.None, inv, out var ui))
                {
                    if (field.Type == Type.Uint32)
                    {
                        Tag(WireFormat.WireType.Varint);
                        output.WriteUInt32(ui);
                    }
                    else
                    {
                        Tag(WireFormat.WireType.Fixed32);
                        output.WriteFixed32(ui);
                    }
                }
                else
                {
                    Bad();
                }

                break;
            case Type.Enum:
                if (!_enums.TryGetValue(field.TypeName, out var enumType))
                {
                    problems.Add(new ConfigProblem(path, $"the descriptor does not define {field.TypeName.TrimStart('.')}, the type of this field"));
                    break;
                }

                var member = enumType.Value.FirstOrDefault(v => v.Name == text)
                    ?? enumType.Value.FirstOrDefault(v => string.Equals(v.Name, text, StringComparison.OrdinalIgnoreCase));
                int number;
                if (member is not null)
                {
                    number = member.Number;
                }
                else if (value.ValueKind == JsonValueKind.Number && int.TryParse(text, integer, inv, out number))
                {
                    // A number is accepted as proto3 JSON does, even one the enum does not name.
                }
                else
                {
                    problems.Add(new ConfigProblem(path, $"'{text}' is not a value of {field.TypeName.TrimStart('.')}; use one of {string.Join(", ", enumType.Value.Select(v => v.Name))}"));
                    break;
                }

                Tag(WireFormat.WireType.Varint);
                output.WriteEnum(number);
                break;
            default:
                problems.Add(new ConfigProblem(path, $"fields of type {field.Type} are not supported"));
                break;
        }
    }

    private static bool TryDouble(string text, out double value)
    {
        switch (text)
        {
            case "NaN":
                value = double.NaN;
                return true;
            case "Infinity":
                value = double.PositiveInfinity;
                return true;
            case "-Infinity":
                value = double.NegativeInfinity;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static string Expected(FieldDescriptorProto field) => field.Type switch
    {
        Type.String => "a string",
        Type.Bytes => "base64 text",
        Type.Bool => "true or false",
        Type.Double or Type.Float => "a number",
        Type.Uint32 or Type.Uint64 or Type.Fixed32 or Type.Fixed64 => "a non-negative integer",
        Type.Enum => $"a value of {field.TypeName.TrimStart('.')}",
        _ => "an integer",
    };

    private JsonObject DecodeMessage(DescriptorProto message, string messageName, byte[] data)
    {
        // Repeated fields may arrive interleaved with others: gather, then write in field order.
        var gathered = new Dictionary<int, List<JsonNode?>>();
        var input = new CodedInputStream(data);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            var wire = WireFormat.GetTagWireType(tag);
            var field = message.Field.FirstOrDefault(f => f.Number == number);
            if (field is null)
            {
                input.SkipLastField();
                continue;
            }

            var list = gathered.TryGetValue(number, out var l) ? l : gathered[number] = [];
            if (wire == WireFormat.WireType.LengthDelimited && IsPackable(field.Type))
            {
                var packed = input.ReadBytes().ToByteArray();
                var packedInput = new CodedInputStream(packed);
                while (!packedInput.IsAtEnd)
                {
                    list.Add(ReadScalar(packedInput, field));
                }

                continue;
            }

            if (IsMap(field, out var entry))
            {
                var entryObject = DecodeMessage(entry, field.TypeName, input.ReadBytes().ToByteArray());
                list.Add(entryObject);
                continue;
            }

            list.Add(field.Type == Type.Message ? DecodeNested(field, input.ReadBytes().ToByteArray()) : ReadScalar(input, field));
        }

        var result = new JsonObject();
        foreach (var field in message.Field.OrderBy(f => f.Number))
        {
            if (!gathered.TryGetValue(field.Number, out var values) || values.Count == 0)
            {
                continue;
            }

            var name = JsonName(field);
            if (IsMap(field, out var entry))
            {
                var keyName = JsonName(entry.Field.First(f => f.Number == 1));
                var valueName = JsonName(entry.Field.First(f => f.Number == 2));
                var map = new JsonObject();
                foreach (var e in values.OfType<JsonObject>())
                {
                    var key = e[keyName]?.ToString() ?? string.Empty;
                    map[key] = e[valueName]?.DeepClone() ?? DefaultOf(entry.Field.First(f => f.Number == 2));
                }

                result[name] = map;
            }
            else if (field.Label == FieldDescriptorProto.Types.Label.Repeated)
            {
                result[name] = new JsonArray(values.Select(v => v?.DeepClone()).ToArray());
            }
            else
            {
                result[name] = values[^1]?.DeepClone();
            }
        }

        return result;
    }

    private JsonNode? DefaultOf(FieldDescriptorProto field) => field.Type switch
    {
        Type.String or Type.Bytes => JsonValue.Create(string.Empty),
        Type.Bool => JsonValue.Create(false),
        Type.Message => new JsonObject(),
        Type.Enum when _enums.TryGetValue(field.TypeName, out var e) && e.Value.Count > 0 => JsonValue.Create(e.Value.FirstOrDefault(v => v.Number == 0)?.Name ?? "0"),
        _ => JsonValue.Create(0),
    };

    private JsonNode? DecodeNested(FieldDescriptorProto field, byte[] data)
    {
        var typeName = field.TypeName.TrimStart('.');
        switch (typeName)
        {
            case "google.protobuf.Duration":
                var duration = Duration.Parser.ParseFrom(data);
                return JsonValue.Create(JsonFormatter.Default.Format(duration).Trim('"'));
            case "google.protobuf.Timestamp":
                var ts = Timestamp.Parser.ParseFrom(data);
                return JsonValue.Create(Rfc3339.Format(ts.Seconds, ts.Nanos));
            case "google.protobuf.Struct":
                return JsonNode.Parse(JsonFormatter.Default.Format(Struct.Parser.ParseFrom(data)));
            case "google.protobuf.Value":
                return JsonNode.Parse(JsonFormatter.Default.Format(Value.Parser.ParseFrom(data)));
            case "google.protobuf.ListValue":
                return JsonNode.Parse(JsonFormatter.Default.Format(ListValue.Parser.ParseFrom(data)));
            default:
                if (WrapperType(typeName) is { } wrapped)
                {
                    var wrapperField = new FieldDescriptorProto { Name = "value", Number = 1, Type = wrapped };
                    var input = new CodedInputStream(data);
                    JsonNode? last = DefaultOf(wrapperField);
                    uint tag;
                    while ((tag = input.ReadTag()) != 0)
                    {
                        if (WireFormat.GetTagFieldNumber(tag) == 1)
                        {
                            last = ReadScalar(input, wrapperField);
                        }
                        else
                        {
                            input.SkipLastField();
                        }
                    }

                    return last;
                }

                return _messages.TryGetValue(field.TypeName, out var nested) ? DecodeMessage(nested, typeName, data) : new JsonObject();
        }
    }

    private JsonNode? ReadScalar(CodedInputStream input, FieldDescriptorProto field) => field.Type switch
    {
        Type.String => JsonValue.Create(input.ReadString()),
        Type.Bytes => JsonValue.Create(Convert.ToBase64String(input.ReadBytes().Span)),
        Type.Bool => JsonValue.Create(input.ReadBool()),
        Type.Double => Number(input.ReadDouble()),
        Type.Float => Number(input.ReadFloat()),
        Type.Int64 => JsonValue.Create(input.ReadInt64()),
        Type.Sint64 => JsonValue.Create(input.ReadSInt64()),
        Type.Sfixed64 => JsonValue.Create(input.ReadSFixed64()),
        Type.Uint64 => JsonValue.Create(input.ReadUInt64()),
        Type.Fixed64 => JsonValue.Create(input.ReadFixed64()),
        Type.Int32 => JsonValue.Create(input.ReadInt32()),
        Type.Sint32 => JsonValue.Create(input.ReadSInt32()),
        Type.Sfixed32 => JsonValue.Create(input.ReadSFixed32()),
        Type.Uint32 => JsonValue.Create(input.ReadUInt32()),
        Type.Fixed32 => JsonValue.Create(input.ReadFixed32()),
        Type.Enum => EnumName(field, input.ReadEnum()),
        _ => throw new InvalidOperationException($"field {field.Name} has unsupported type {field.Type}"),
    };

    private static JsonNode Number(double d) => double.IsFinite(d)
        ? JsonValue.Create(d)
        : JsonValue.Create(double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");

    private JsonNode EnumName(FieldDescriptorProto field, int number) =>
        _enums.TryGetValue(field.TypeName, out var e) && e.Value.FirstOrDefault(v => v.Number == number) is { } member
            ? JsonValue.Create(member.Name)
            : JsonValue.Create(number);
}
