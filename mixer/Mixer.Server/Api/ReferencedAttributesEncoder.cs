using Istio.Mixer.V1;
using Mixer.Sdk;

namespace Mixer.Server.Api;

/// <summary>
/// Turns a bag's lookup record into the wire's <see cref="ReferencedAttributes"/>: one match per
/// attribute or map key, duplicates folded, words given as global indexes the client knows
/// (index &lt; its global_word_count) and otherwise as words of the message itself.
/// </summary>
internal static class ReferencedAttributesEncoder
{
    public static ReferencedAttributes Encode(ReferenceTracker tracker, uint globalWordCount, int from = 0)
    {
        var result = new ReferencedAttributes();
        var known = (int)Math.Min(globalWordCount, (uint)GlobalDictionary.Count);
        Dictionary<string, int>? messageWords = null;
        var seen = new HashSet<(string, string?)>();

        int Index(string word)
        {
            var g = GlobalDictionary.IndexOf(word);
            if (g >= 0 && g < known)
            {
                return g;
            }

            messageWords ??= new Dictionary<string, int>(StringComparer.Ordinal);
            if (!messageWords.TryGetValue(word, out var slot))
            {
                slot = result.Words.Count;
                result.Words.Add(word);
                messageWords[word] = slot;
            }

            return -1 - slot;
        }

        void Add(string name, string? key, ReferenceKind kind)
        {
            if (!seen.Add((name, key)))
            {
                return;
            }

            var match = new ReferencedAttributes.Types.AttributeMatch
            {
                Name = Index(name),
                Condition = kind == ReferenceKind.Exact
                    ? ReferencedAttributes.Types.Condition.Exact
                    : ReferencedAttributes.Types.Condition.Absence,
            };
            if (key is not null)
            {
                match.MapKey = Index(key);
            }

            result.AttributeMatches.Add(match);
        }

        var refs = tracker.References;
        for (var i = from; i < refs.Count; i++)
        {
            Add(refs[i].Name, refs[i].MapKey, refs[i].Kind);
        }

        // A map used whole: the wire cannot say "exactly this map", so name every key it holds.
        // A client cache then reuses the answer only for requests carrying the same values under
        // those keys (Istio 1.0 recorded nothing here, and so served stale answers).
        foreach (var (name, map) in tracker.WholeMaps)
        {
            foreach (var (key, _) in map)
            {
                Add(name, key, ReferenceKind.Exact);
            }
        }

        return result;
    }
}
