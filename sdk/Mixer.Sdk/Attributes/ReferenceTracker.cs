namespace Mixer.Sdk;

/// <summary>How an answer depended on an attribute.</summary>
public enum ReferenceKind : byte
{
    /// <summary>The attribute (or map key) was looked up and absent.</summary>
    Absence = 1,

    /// <summary>The attribute (or map key) was looked up and its value used.</summary>
    Exact = 2,
}

/// <summary>One recorded lookup: an attribute, or one key of a string map.</summary>
/// <param name="Name">The attribute name.</param>
/// <param name="MapKey">The key looked up in a string map, or null for the attribute itself.</param>
/// <param name="Kind">Whether it was present.</param>
public readonly record struct AttributeReference(string Name, string? MapKey, ReferenceKind Kind);

/// <summary>
/// The record of lookups made through a bag. Append-only while a request is evaluated; the Check
/// answer turns it into <c>referenced_attributes</c>.
/// </summary>
public sealed class ReferenceTracker
{
    private readonly List<AttributeReference> _references = new(32);
    private readonly Dictionary<string, IStringMap> _wholeMaps = new(StringComparer.Ordinal);

    /// <summary>Every lookup recorded so far, in order, duplicates included.</summary>
    public IReadOnlyList<AttributeReference> References => _references;

    /// <summary>
    /// The present string maps that were read as a whole (not key by key). The wire cannot say
    /// "this whole map": an exact cache must not reuse an answer that depended on one.
    /// </summary>
    public IReadOnlyDictionary<string, IStringMap> WholeMaps => _wholeMaps;

    /// <summary>How many references are recorded (a mark to roll back to).</summary>
    public int Count => _references.Count;

    /// <summary>Records a lookup of an attribute.</summary>
    public void Attribute(string name, bool present) =>
        _references.Add(new AttributeReference(name, null, present ? ReferenceKind.Exact : ReferenceKind.Absence));

    /// <summary>Records a lookup of one key of a map.</summary>
    public void MapKey(string name, string key, bool present) =>
        _references.Add(new AttributeReference(name, key, present ? ReferenceKind.Exact : ReferenceKind.Absence));

    /// <summary>Records that a present map was used as a whole, with the map seen.</summary>
    public void WholeMap(string name, IStringMap map) => _wholeMaps[name] = map;

    /// <summary>Forgets references recorded after <paramref name="mark"/> (a <see cref="Count"/> taken earlier).</summary>
    public void RollBack(int mark)
    {
        if (mark < _references.Count)
        {
            _references.RemoveRange(mark, _references.Count - mark);
        }
    }

    /// <summary>Forgets everything.</summary>
    public void Clear()
    {
        _references.Clear();
        _wholeMaps.Clear();
    }
}
