namespace Mixer.Sdk;

/// <summary>
/// A mutable bag over a dictionary: for attributes built in code (tests, tools, preprocessing output).
/// Records lookups when given a <see cref="ReferenceTracker"/>.
/// </summary>
public sealed class DictionaryBag : IAttributeBag
{
    private readonly Dictionary<string, AttributeValue> _values;

    /// <summary>An empty bag.</summary>
    public DictionaryBag(ReferenceTracker? tracker = null)
    {
        _values = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        Tracker = tracker;
    }

    /// <summary>A bag holding <paramref name="values"/>.</summary>
    public DictionaryBag(IEnumerable<KeyValuePair<string, AttributeValue>> values, ReferenceTracker? tracker = null)
        : this(tracker)
    {
        foreach (var (k, v) in values)
        {
            _values[k] = v;
        }
    }

    /// <summary>Where lookups are recorded, if anywhere.</summary>
    public ReferenceTracker? Tracker { get; set; }

    /// <summary>Sets (or replaces) an attribute.</summary>
    public DictionaryBag Set(string name, AttributeValue value)
    {
        _values[name] = value;
        return this;
    }

    /// <summary>Removes an attribute.</summary>
    public bool Remove(string name) => _values.Remove(name);

    /// <summary>Removes every attribute.</summary>
    public void Clear() => _values.Clear();

    /// <summary>Number of attributes.</summary>
    public int Count => _values.Count;

    /// <inheritdoc/>
    public IEnumerable<string> Names => _values.Keys;

    /// <inheritdoc/>
    public bool TryGet(string name, out AttributeValue value)
    {
        var found = _values.TryGetValue(name, out value);
        if (Tracker is { } t)
        {
            if (found && value.Type == ValueType.StringMap)
            {
                t.WholeMap(name, value.AsStringMap);
            }
            else
            {
                t.Attribute(name, found);
            }
        }

        return found;
    }

    /// <inheritdoc/>
    public bool TryGetMapValue(AttributeName name, string key, out string value)
    {
        if (!_values.TryGetValue(name.Name, out var map) || map.Type != ValueType.StringMap)
        {
            Tracker?.Attribute(name.Name, false);
            value = string.Empty;
            return false;
        }

        var found = map.AsStringMap.TryGetValue(key, out value!);
        Tracker?.MapKey(name.Name, key, found);
        value ??= string.Empty;
        return found;
    }
}
