using System.Diagnostics.CodeAnalysis;

namespace Mixer.Runtime.Config;

/// <summary>A YAML value with the line it was written on, so every error can point at it.</summary>
public abstract class ConfigNode(SourcePosition position)
{
    /// <summary>Where the value starts.</summary>
    public SourcePosition Position { get; } = position;

    /// <summary>A short name of the node's shape, for error messages.</summary>
    public abstract string Shape { get; }
}

/// <summary>A scalar: its text as written (YAML tags and quoting do not change it).</summary>
public sealed class ConfigScalar(SourcePosition position, string value, bool quoted, bool literalBlock = false) : ConfigNode(position)
{
    /// <summary>
    /// Whether it was written as a literal block (<c>|</c>): its text keeps the YAML's line breaks,
    /// so line n of the text is YAML line <see cref="ConfigNode.Position"/> + n.
    /// </summary>
    public bool LiteralBlock { get; } = literalBlock;

    /// <summary>The text.</summary>
    public string Value { get; } = value;

    /// <summary>Whether it was quoted in the YAML (a quoted scalar is always a string).</summary>
    public bool Quoted { get; } = quoted;

    /// <summary>True for YAML's null (<c>~</c>, <c>null</c> or nothing), unquoted.</summary>
    public bool IsNull => !Quoted && Value is "" or "~" or "null" or "Null" or "NULL";

    /// <inheritdoc/>
    public override string Shape => "a scalar";
}

/// <summary>A sequence.</summary>
public sealed class ConfigList(SourcePosition position, IReadOnlyList<ConfigNode> items) : ConfigNode(position)
{
    /// <summary>The items in order.</summary>
    public IReadOnlyList<ConfigNode> Items { get; } = items;

    /// <inheritdoc/>
    public override string Shape => "a list";
}

/// <summary>A mapping with string keys, in the order written.</summary>
public sealed class ConfigMap(SourcePosition position, IReadOnlyList<KeyValuePair<string, ConfigNode>> entries) : ConfigNode(position)
{
    /// <summary>An empty map at <paramref name="position"/>.</summary>
    public static ConfigMap Empty(SourcePosition position) => new(position, []);

    /// <summary>The entries in order.</summary>
    public IReadOnlyList<KeyValuePair<string, ConfigNode>> Entries { get; } = entries;

    /// <inheritdoc/>
    public override string Shape => "a map";

    /// <summary>
    /// The value under <paramref name="key"/>. Istio's protos read both camelCase and snake_case
    /// field names (<c>instance_name</c> / <c>instanceName</c>): either spelling finds the field.
    /// </summary>
    public bool TryGet(string key, [NotNullWhen(true)] out ConfigNode? value)
    {
        foreach (var (k, v) in Entries)
        {
            if (string.Equals(k, key, StringComparison.Ordinal) || string.Equals(Normalize(k), Normalize(key), StringComparison.Ordinal))
            {
                value = v;
                return true;
            }
        }

        value = null;
        return false;
    }

    /// <summary>The field name with underscores removed and lower-cased: <c>instance_name</c> and <c>instanceName</c> agree.</summary>
    public static string Normalize(string key) => key.Replace("_", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
}
