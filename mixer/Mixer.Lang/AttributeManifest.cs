using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang;

/// <summary>The attribute vocabulary expressions are checked against: name to type.</summary>
public interface IAttributeManifest
{
    /// <summary>The declared type of <paramref name="name"/>; false when no manifest declares it.</summary>
    bool TryGetType(string name, out ValueType type);

    /// <summary>Every declared name (used to suggest a fix for a typo).</summary>
    IEnumerable<string> Names { get; }
}

/// <summary>
/// An immutable attribute manifest: the merge of the <c>attributemanifest</c> documents of one
/// config snapshot (later declarations of the same name win, as in Istio's merge).
/// </summary>
public sealed class AttributeManifest : IAttributeManifest
{
    private readonly Dictionary<string, ValueType> _types;

    /// <summary>A manifest declaring <paramref name="attributes"/>.</summary>
    public AttributeManifest(IEnumerable<KeyValuePair<string, ValueType>> attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        _types = new Dictionary<string, ValueType>(StringComparer.Ordinal);
        foreach (var (name, type) in attributes)
        {
            if (type == ValueType.Unspecified)
            {
                throw new ArgumentException($"attribute '{name}' has no value type", nameof(attributes));
            }

            _types[name] = type;
        }
    }

    /// <summary>A manifest that declares nothing (only constant expressions check).</summary>
    public static AttributeManifest Empty { get; } = new([]);

    /// <summary>Number of declared attributes.</summary>
    public int Count => _types.Count;

    /// <inheritdoc/>
    public IEnumerable<string> Names => _types.Keys;

    /// <inheritdoc/>
    public bool TryGetType(string name, out ValueType type) => _types.TryGetValue(name, out type);
}
