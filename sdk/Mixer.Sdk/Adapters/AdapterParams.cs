using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mixer.Sdk.Adapters;

/// <summary>
/// Reads handler params (the JSON the runtime hands an adapter) into a typed params class, the
/// way every in-tree adapter does: camelCase names, numbers that may arrive as strings, enums by
/// their Istio names (<c>ROLLING_WINDOW</c>) or numbers, Go duration strings for
/// <see cref="TimeSpan"/>, and unknown fields rejected so a typo is reported instead of ignored.
/// </summary>
public static class AdapterParams
{
    /// <summary>The serializer options used by <see cref="TryRead{T}"/>.</summary>
    public static JsonSerializerOptions SerializerOptions { get; } = CreateOptions();

    /// <summary>
    /// Reads <paramref name="parameters"/> as <typeparamref name="T"/>. An absent or null params
    /// element yields a new <typeparamref name="T"/> with its defaults. On a malformed field,
    /// returns null and adds a problem naming the field path (e.g. <c>quotas[1].maxAmount</c>).
    /// </summary>
    public static T? TryRead<T>(JsonElement parameters, ICollection<ConfigProblem> problems)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (parameters.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return new T();
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new ConfigProblem(string.Empty, $"params must be an object, not {parameters.ValueKind.ToString().ToLowerInvariant()}"));
            return null;
        }

        try
        {
            return parameters.Deserialize<T>(SerializerOptions) ?? new T();
        }
        catch (JsonException ex)
        {
            problems.Add(new ConfigProblem(FieldPath(ex.Path), Reason(ex)));
            return null;
        }
    }

    /// <summary>
    /// How handler params' keys reach an adapter: <c>instance_name</c> becomes <c>instanceName</c>
    /// (Istio's YAML takes either form); keys already in camelCase are kept. Both the in-process
    /// runtime and the out-of-process host normalise params with it.
    /// </summary>
    /// <param name="key">A params key as written.</param>
    public static string CamelCase(string key)
    {
        if (!key.Contains('_', StringComparison.Ordinal))
        {
            return key;
        }

        var sb = new StringBuilder(key.Length);
        var upper = false;
        foreach (var c in key)
        {
            if (c == '_')
            {
                upper = sb.Length > 0;
                continue;
            }

            sb.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        return sb.ToString();
    }

    /// <summary>
    /// Reads params that <see cref="IAdapter.Validate"/> accepted; throws
    /// <see cref="ArgumentException"/> listing the problems otherwise.
    /// </summary>
    public static T Read<T>(JsonElement parameters)
        where T : class, new()
    {
        var problems = new List<ConfigProblem>();
        var value = TryRead<T>(parameters, problems);
        if (value is null)
        {
            throw new ArgumentException("invalid params: " + string.Join("; ", problems.Select(p => $"{p.Field}: {p.Reason}")), nameof(parameters));
        }

        return value;
    }

    /// <summary>Turns a System.Text.Json path (<c>$.quotas[1].maxAmount</c>) into a field path (<c>quotas[1].maxAmount</c>).</summary>
    public static string FieldPath(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$")
        {
            return string.Empty;
        }

        var path = jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..]
            : jsonPath.StartsWith('$') ? jsonPath[1..]
            : jsonPath;

        // Names that need quoting come out as ['some name']; keep them readable.
        return path.Replace("['", ".", StringComparison.Ordinal).Replace("']", string.Empty, StringComparison.Ordinal).TrimStart('.');
    }

    private static string Reason(JsonException ex)
    {
        // Our own converters throw with a message meant for people; the serializer's own
        // messages carry a "Path: ..." tail that the field already says.
        var message = ex.Message;
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut >= 0)
        {
            message = message[..cut];
        }

        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            return "unknown field";
        }

        if (message.StartsWith("The JSON value could not be converted to", StringComparison.Ordinal))
        {
            var type = message["The JSON value could not be converted to ".Length..].TrimEnd('.');
            return $"has the wrong type (expected {Describe(type)})";
        }

        return message;
    }

    private static string Describe(string clrType) => clrType switch
    {
        "System.Int64" or "System.Int32" or "System.Nullable`1[System.Int64]" or "System.Nullable`1[System.Int32]" => "an integer",
        "System.Double" => "a number",
        "System.Boolean" or "System.Nullable`1[System.Boolean]" => "true or false",
        "System.String" => "a string",
        _ when clrType.StartsWith("System.Collections.Generic.List", StringComparison.Ordinal) => "a list",
        _ when clrType.StartsWith("System.Collections.Generic.Dictionary", StringComparison.Ordinal) => "a map",
        _ => clrType[(clrType.LastIndexOf('.') + 1)..],
    };

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            NumberHandling = JsonNumberHandling.AllowReadingFromString,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        };
        options.Converters.Add(new GoDurationJsonConverter());
        options.Converters.Add(new LenientStringJsonConverter());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: true));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

/// <summary>
/// Reads a <see cref="TimeSpan"/> from a Go duration string (<c>5s</c>, <c>1m30s</c>, <c>500ms</c>),
/// as Istio config writes durations, and writes it back in that form.
/// </summary>
public sealed class GoDurationJsonConverter : JsonConverter<TimeSpan>
{
    /// <inheritdoc/>
    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException("must be a duration string such as 5s, 1m or 500ms");
        }

        var text = reader.GetString()!;
        if (!GoDuration.TryParse(text, out var nanos))
        {
            throw new JsonException($"'{text}' is not a duration (examples: 500ms, 5s, 1m30s)");
        }

        return TimeSpan.FromTicks(nanos / 100);
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(GoDuration.Format(value));
    }
}

/// <summary>
/// Reads a string from a JSON string, number or boolean: YAML turns an unquoted <c>200</c> or
/// <c>true</c> into a number or boolean, while the field (a dimension value, a list entry) is text.
/// </summary>
public sealed class LenientStringJsonConverter : JsonConverter<string>
{
    /// <inheritdoc/>
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        _ => throw new JsonException("must be a string"),
    };

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value);
    }
}
