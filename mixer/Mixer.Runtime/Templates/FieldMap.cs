using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Mixer.Sdk;

namespace Mixer.Runtime.Templates;

/// <summary>
/// An instance's map field (dimensions, variables, tags) as handlers see it: the keys are the
/// config's, shared by every instance built from it, the values this instance's. Reports build
/// many of these per request; a dictionary each (buckets, entries, resizes) was most of Report's
/// allocation. Lookups scan: these maps hold a handful of entries.
/// </summary>
internal sealed class FieldMap(string[] keys, AttributeValue[] values) : IReadOnlyDictionary<string, AttributeValue>
{
    public int Count => keys.Length;

    public IEnumerable<string> Keys => keys;

    public IEnumerable<AttributeValue> Values => values;

    public AttributeValue this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no field '{key}'");

    public bool ContainsKey(string key) => Array.IndexOf(keys, key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out AttributeValue value)
    {
        for (var i = 0; i < keys.Length; i++)
        {
            if (string.Equals(keys[i], key, StringComparison.Ordinal))
            {
                value = values[i];
                return true;
            }
        }

        value = default;
        return false;
    }

    public IEnumerator<KeyValuePair<string, AttributeValue>> GetEnumerator()
    {
        for (var i = 0; i < keys.Length; i++)
        {
            yield return new KeyValuePair<string, AttributeValue>(keys[i], values[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
