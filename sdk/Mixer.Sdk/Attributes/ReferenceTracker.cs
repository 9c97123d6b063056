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

    // Positions (+1) of recorded references, open addressing by the identity of the name and key
    // strings: the rules of one request read the same attributes over and over, and recording each
    // read once keeps the record (and the Check answer built from it) small.
    private int[] _seen = new int[64];
    private int _seenCount;

    /// <summary>
    /// The lookups recorded so far, in order. A repeated lookup of the same attribute (or map key)
    /// through the same name is recorded once; consumers still fold duplicates spelled by other
    /// string instances.
    /// </summary>
    public IReadOnlyList<AttributeReference> References => _references;

    /// <summary>
    /// The present string maps that were read as a whole (not key by key). The wire cannot say
    /// "this whole map": an exact cache must not reuse an answer that depended on one.
    /// </summary>
    public IReadOnlyDictionary<string, IStringMap> WholeMaps => _wholeMaps;

    /// <summary>How many references are recorded (a mark to roll back to).</summary>
    public int Count => _references.Count;

    /// <summary>Records a lookup of an attribute.</summary>
    public void Attribute(string name, bool present) => Add(new AttributeReference(name, null, present ? ReferenceKind.Exact : ReferenceKind.Absence));

    /// <summary>Records a lookup of one key of a map.</summary>
    public void MapKey(string name, string key, bool present) => Add(new AttributeReference(name, key, present ? ReferenceKind.Exact : ReferenceKind.Absence));

    /// <summary>Records that a present map was used as a whole, with the map seen.</summary>
    public void WholeMap(string name, IStringMap map) => _wholeMaps[name] = map;

    /// <summary>
    /// Starts a new section of the record (e.g. one quota's lookups) and returns where it starts:
    /// lookups from now on are recorded again even if an earlier section has them.
    /// </summary>
    public int Mark()
    {
        Array.Clear(_seen);
        _seenCount = 0;
        return _references.Count;
    }

    /// <summary>Forgets references recorded after <paramref name="mark"/> (a <see cref="Count"/> taken earlier).</summary>
    public void RollBack(int mark)
    {
        if (mark < _references.Count)
        {
            _references.RemoveRange(mark, _references.Count - mark);
        }

        Mark();
    }

    /// <summary>Forgets everything.</summary>
    public void Clear()
    {
        _references.Clear();
        _wholeMaps.Clear();
        Mark();
    }

    private void Add(AttributeReference reference)
    {
        var mask = _seen.Length - 1;
        var h = Hash(reference);
        for (var i = h & mask; ; i = (i + 1) & mask)
        {
            var at = _seen[i];
            if (at == 0)
            {
                _references.Add(reference);
                _seen[i] = _references.Count;
                if (++_seenCount * 4 > _seen.Length * 3)
                {
                    Grow();
                }

                return;
            }

            var r = _references[at - 1];
            if (ReferenceEquals(r.Name, reference.Name) && ReferenceEquals(r.MapKey, reference.MapKey) && r.Kind == reference.Kind)
            {
                return;
            }
        }
    }

    private void Grow()
    {
        var old = _seen;
        _seen = new int[old.Length * 2];
        var mask = _seen.Length - 1;
        foreach (var at in old)
        {
            if (at == 0)
            {
                continue;
            }

            var r = _references[at - 1];
            var h = Hash(r);
            var i = h & mask;
            while (_seen[i] != 0)
            {
                i = (i + 1) & mask;
            }

            _seen[i] = at;
        }
    }

    private static int Hash(AttributeReference r) =>
        (System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(r.Name) * 31) ^ (r.MapKey is null ? 0 : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(r.MapKey));
}
