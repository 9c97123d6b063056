namespace Mixer.Sdk;

/// <summary>
/// A set of named, typed attributes: what a proxy says about one request. Bags used for Check record
/// every lookup, so the answer can tell the client which attributes it depended on.
/// </summary>
public interface IAttributeBag
{
    /// <summary>Looks up an attribute by name.</summary>
    bool TryGet(string name, out AttributeValue value);

    /// <summary>Looks up an attribute by interned name (the fast path for compiled expressions).</summary>
    bool TryGet(AttributeName name, out AttributeValue value) => TryGet(name.Name, out value);

    /// <summary>
    /// Looks up one key of a STRING_MAP attribute. Unlike reading the whole map, this records a
    /// dependency on that key alone. False when the attribute is absent, not a map, or lacks the key.
    /// </summary>
    bool TryGetMapValue(AttributeName name, string key, out string value)
    {
        if (TryGet(name, out var map) && map.Type == ValueType.StringMap)
        {
            return map.AsStringMap.TryGetValue(key, out value);
        }

        value = string.Empty;
        return false;
    }

    /// <summary>
    /// Looks the names up in order and stops at the first one present: the answer, and the lookups
    /// recorded, are those of calling <see cref="TryGet(AttributeName, out AttributeValue)"/> on
    /// each in turn, in one call (compiled <c>a | b | c</c> chains of attributes use it). Returns
    /// the position of the attribute found, or -1 when none is present.
    /// </summary>
    int TryGetFirst(AttributeName[] names, out AttributeValue value)
    {
        ArgumentNullException.ThrowIfNull(names);
        for (var i = 0; i < names.Length; i++)
        {
            if (TryGet(names[i], out value))
            {
                return i;
            }
        }

        value = default;
        return -1;
    }

    /// <summary>The names of the attributes present.</summary>
    IEnumerable<string> Names { get; }
}
