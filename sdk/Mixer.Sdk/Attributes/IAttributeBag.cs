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

    /// <summary>The names of the attributes present.</summary>
    IEnumerable<string> Names { get; }
}
