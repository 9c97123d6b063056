using Mixer.Sdk.Adapters;
using System.Globalization;
using System.Text.Json;

namespace Mixer.Runtime.Config;

/// <summary>
/// Turns a YAML spec into the JSON an adapter reads: keys in camelCase (Istio accepts
/// <c>instance_name</c> and <c>instanceName</c> alike), unquoted numbers and booleans as JSON
/// numbers and booleans, everything else as strings.
/// </summary>
internal static class ParamsJson
{
    public static JsonElement From(ConfigNode node, IEnumerable<KeyValuePair<string, JsonElement>>? extra = null)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            if (extra is null)
            {
                Write(w, node);
            }
            else
            {
                w.WriteStartObject();
                if (node is ConfigMap map)
                {
                    foreach (var (k, v) in map.Entries)
                    {
                        w.WritePropertyName(AdapterParams.CamelCase(k));
                        Write(w, v);
                    }
                }

                foreach (var (k, v) in extra)
                {
                    w.WritePropertyName(k);
                    v.WriteTo(w);
                }

                w.WriteEndObject();
            }
        }

        return JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
    }

    /// <summary>
    /// The line of the node at <paramref name="path"/> (<c>quotas[1].maxAmount</c>), or of the
    /// nearest parent found; with <paramref name="textLine"/>, the line of that line of the text
    /// when the node is a literal block (a script written after <c>|</c>).
    /// </summary>
    public static SourcePosition Locate(ConfigNode root, string path, int? textLine = null)
    {
        var found = Locate(root, path, out var exact);
        return exact && textLine is int line && line > 0 && found is ConfigScalar { LiteralBlock: true } block
            ? block.Position with { Line = block.Position.Line + line }
            : found.Position;
    }

    private static ConfigNode Locate(ConfigNode root, string path, out bool exact)
    {
        exact = true;
        var node = root;
        foreach (var part in Parts(path))
        {
            ConfigNode? next = null;
            if (part.Index is { } i && node is ConfigList list && i < list.Items.Count)
            {
                next = list.Items[i];
            }
            else if (part.Name is { } name && node is ConfigMap map && map.TryGet(name, out var child))
            {
                next = child;
            }

            if (next is null)
            {
                exact = false;
                break;
            }

            node = next;
        }

        return node;
    }

    private static IEnumerable<(string? Name, int? Index)> Parts(string path)
    {
        foreach (var segment in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bracket = segment.IndexOf('[', StringComparison.Ordinal);
            var name = bracket < 0 ? segment : segment[..bracket];
            if (name.Length > 0)
            {
                yield return (name, null);
            }

            while (bracket >= 0)
            {
                var end = segment.IndexOf(']', bracket);
                if (end < 0 || !int.TryParse(segment.AsSpan(bracket + 1, end - bracket - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    yield break;
                }

                yield return (null, index);
                bracket = segment.IndexOf('[', end);
            }
        }
    }

    private static void Write(Utf8JsonWriter w, ConfigNode node)
    {
        switch (node)
        {
            case ConfigMap map:
                w.WriteStartObject();
                foreach (var (k, v) in map.Entries)
                {
                    w.WritePropertyName(AdapterParams.CamelCase(k));
                    Write(w, v);
                }

                w.WriteEndObject();
                break;
            case ConfigList list:
                w.WriteStartArray();
                foreach (var item in list.Items)
                {
                    Write(w, item);
                }

                w.WriteEndArray();
                break;
            case ConfigScalar s when s.IsNull:
                w.WriteNullValue();
                break;
            case ConfigScalar s when !s.Quoted && s.Value is "true" or "True" or "TRUE" or "false" or "False" or "FALSE":
                w.WriteBooleanValue(s.Value.StartsWith('t') || s.Value.StartsWith('T'));
                break;
            case ConfigScalar s when !s.Quoted && long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l):
                w.WriteNumberValue(l);
                break;
            case ConfigScalar s when !s.Quoted && IsFloat(s.Value) && double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d):
                w.WriteNumberValue(d);
                break;
            case ConfigScalar s:
                w.WriteStringValue(s.Value);
                break;
        }
    }

    private static bool IsFloat(string s) => s.Length > 0 && (char.IsAsciiDigit(s[0]) || s[0] is '-' or '+' or '.');

}
