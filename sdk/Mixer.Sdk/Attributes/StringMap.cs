using System.Text;

namespace Mixer.Sdk;

/// <summary>A read-only map from string to string: the value of a STRING_MAP attribute.</summary>
public interface IStringMap : IEnumerable<KeyValuePair<string, string>>
{
    /// <summary>Number of entries.</summary>
    int Count { get; }

    /// <summary>Looks up <paramref name="key"/> (ordinal, case-sensitive).</summary>
    bool TryGetValue(string key, out string value);
}

/// <summary>An <see cref="IStringMap"/> over a dictionary, for values built in code.</summary>
public sealed class StringMapValue : IStringMap
{
    private readonly Dictionary<string, string> _entries;

    /// <summary>An empty map.</summary>
    public static readonly StringMapValue Empty = new(new Dictionary<string, string>(0, StringComparer.Ordinal));

    /// <summary>Copies <paramref name="entries"/>.</summary>
    public StringMapValue(IEnumerable<KeyValuePair<string, string>> entries)
    {
        _entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in entries)
        {
            _entries[k] = v;
        }
    }

    private StringMapValue(Dictionary<string, string> entries) => _entries = entries;

    /// <inheritdoc/>
    public int Count => _entries.Count;

    /// <inheritdoc/>
    public bool TryGetValue(string key, out string value) => _entries.TryGetValue(key, out value!);

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _entries.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Helpers over <see cref="IStringMap"/>.</summary>
public static class StringMaps
{
    /// <summary>True when both maps hold the same keys with the same values.</summary>
    public static bool ContentEquals(IStringMap a, IStringMap b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (k, v) in a)
        {
            if (!b.TryGetValue(k, out var other) || !string.Equals(v, other, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Formats as <c>k1:v1;k2:v2</c>, keys sorted (the form mixc reads).</summary>
    public static string Format(IStringMap map)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in map.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (sb.Length > 0)
            {
                sb.Append(';');
            }

            sb.Append(k).Append(':').Append(v);
        }

        return sb.ToString();
    }
}
