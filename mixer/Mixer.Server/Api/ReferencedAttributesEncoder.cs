using Istio.Mixer.V1;
using Mixer.Sdk;

namespace Mixer.Server.Api;

/// <summary>
/// Turns a bag's lookup record into the wire's <see cref="ReferencedAttributes"/>: one match per
/// attribute or map key, duplicates folded, words given as global indexes the client knows
/// (index &lt; its global_word_count) and otherwise as words of the message itself.
/// </summary>
/// <remarks>
/// On the Check hot path: a record holds a few dozen entries, so duplicates are found by a linear
/// scan over integer indexes rather than with a hash set, and nothing is allocated but the answer.
/// </remarks>
internal static class ReferencedAttributesEncoder
{
    /// <summary>Marks a match without a map key while folding duplicates (no real index is this).</summary>
    private const int NoKey = int.MinValue;

    /// <summary>A recorded list of lookups (e.g. the one a cached answer was computed from).</summary>
    public static ReferencedAttributes Encode(IReadOnlyList<AttributeReference> references, uint globalWordCount) =>
        Encode(references, null, globalWordCount, 0);

    public static ReferencedAttributes Encode(ReferenceTracker tracker, uint globalWordCount, int from = 0)
    {
        if (tracker.WholeMaps.Count > 0)
        {
            return Encode(tracker.References, tracker, globalWordCount, from);
        }

        // Requests of one kind read the same attributes and keys, so their answers carry the same
        // referenced_attributes: a few recent encodings are kept per thread and shared (the message
        // is never changed once built, and serializing only reads it).
        var refs = tracker.References;
        var known = Math.Min(globalWordCount, (uint)GlobalDictionary.Count);
        var hash = (int)known;
        for (var i = from; i < refs.Count; i++)
        {
            // Identity hashes: names that are global words, and keys from compiled expressions, are
            // the same string objects from request to request; anything else just misses.
            var r = refs[i];
            hash = (hash * 31) + System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(r.Name);
            hash = (hash * 31) + (r.MapKey is null ? 0 : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(r.MapKey)) + (int)r.Kind;
        }

        var cache = t_recent ??= new Recent[RecentSlots];
        ref var slot = ref cache[hash & (RecentSlots - 1)];
        if (slot.Message is not null && slot.Hash == hash && slot.Known == known && Same(slot.References, refs, from))
        {
            return slot.Message;
        }

        var message = Encode(refs, tracker, globalWordCount, from);
        var copy = new AttributeReference[refs.Count - from];
        for (var i = from; i < refs.Count; i++)
        {
            copy[i - from] = refs[i];
        }

        slot = new Recent(hash, known, copy, message);
        return message;
    }

    private const int RecentSlots = 8;

    [ThreadStatic]
    private static Recent[]? t_recent;

    private readonly record struct Recent(int Hash, uint Known, AttributeReference[] References, ReferencedAttributes Message);

    private static bool Same(AttributeReference[] saved, IReadOnlyList<AttributeReference> refs, int from)
    {
        if (saved.Length != refs.Count - from)
        {
            return false;
        }

        for (var i = 0; i < saved.Length; i++)
        {
            var r = refs[from + i];
            if (saved[i].Kind != r.Kind || !string.Equals(saved[i].Name, r.Name, StringComparison.Ordinal) || !string.Equals(saved[i].MapKey, r.MapKey, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static ReferencedAttributes Encode(IReadOnlyList<AttributeReference> refs, ReferenceTracker? tracker, uint globalWordCount, int from)
    {
        var result = new ReferencedAttributes();
        var known = (int)Math.Min(globalWordCount, (uint)GlobalDictionary.Count);
        Span<(int Name, int Key)> seen = refs.Count - from <= 64 ? stackalloc (int, int)[refs.Count - from] : new (int, int)[refs.Count - from];
        var count = 0;
        for (var i = from; i < refs.Count; i++)
        {
            Add(result, known, refs[i].Name, refs[i].MapKey, refs[i].Kind, seen, ref count);
        }

        // A map used whole: the wire cannot say "exactly this map", so name every key it holds.
        // A client cache then reuses the answer only for requests carrying the same values under
        // those keys (Istio 1.0 recorded nothing here, and so served stale answers).
        if (tracker is not null && tracker.WholeMaps.Count > 0)
        {
            var extra = new (int, int)[count + tracker.WholeMaps.Sum(m => m.Value.Count)];
            seen[..count].CopyTo(extra);
            foreach (var (name, map) in tracker.WholeMaps)
            {
                foreach (var (key, _) in map)
                {
                    Add(result, known, name, key, ReferenceKind.Exact, extra, ref count);
                }
            }
        }

        return result;
    }

    private static void Add(ReferencedAttributes result, int known, string name, string? key, ReferenceKind kind, Span<(int Name, int Key)> seen, ref int count)
    {
        var n = Index(result, known, name);
        var k = key is null ? NoKey : Index(result, known, key);
        for (var i = 0; i < count; i++)
        {
            if (seen[i] == (n, k))
            {
                return;
            }
        }

        seen[count++] = (n, k);
        var match = new ReferencedAttributes.Types.AttributeMatch
        {
            Name = n,
            Condition = kind == ReferenceKind.Exact ? ReferencedAttributes.Types.Condition.Exact : ReferencedAttributes.Types.Condition.Absence,
        };
        if (key is not null)
        {
            match.MapKey = k;
        }

        result.AttributeMatches.Add(match);
    }

    private static int Index(ReferencedAttributes result, int known, string word)
    {
        var g = GlobalDictionary.IndexOf(word);
        if (g >= 0 && g < known)
        {
            return g;
        }

        var words = result.Words;
        for (var i = 0; i < words.Count; i++)
        {
            if (string.Equals(words[i], word, StringComparison.Ordinal))
            {
                return -1 - i;
            }
        }

        words.Add(word);
        return -words.Count;
    }
}
