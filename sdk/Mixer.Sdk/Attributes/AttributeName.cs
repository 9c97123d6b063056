using System.Collections.Concurrent;
using Istio.Mixer.V1;

namespace Mixer.Sdk;

/// <summary>
/// An interned attribute name with its position in the global dictionary, so a bag can find the
/// attribute by comparing integers instead of hashing the name on every lookup.
/// </summary>
public sealed class AttributeName
{
    private static readonly ConcurrentDictionary<string, AttributeName> s_names = new(StringComparer.Ordinal);

    private AttributeName(string name)
    {
        Name = name;
        GlobalIndex = GlobalDictionary.IndexOf(name);
    }

    /// <summary>The attribute's name.</summary>
    public string Name { get; }

    /// <summary>The name's index in the global dictionary, or -1.</summary>
    public int GlobalIndex { get; }

    /// <summary>The shared handle for <paramref name="name"/>.</summary>
    public static AttributeName Of(string name) => s_names.GetOrAdd(name, static n => new AttributeName(n));

    /// <inheritdoc/>
    public override string ToString() => Name;
}
