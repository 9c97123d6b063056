using Istio.Mixer.V1;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;

namespace Mixer.Client;

/// <summary>
/// One attribute (or one key of a string map) a Mixer answer depended on, with its words resolved.
/// </summary>
/// <param name="Name">The attribute's name.</param>
/// <param name="MapKey">The string-map key the answer depended on, or null for the attribute as a whole.</param>
/// <param name="Condition">ABSENCE: must be absent; EXACT: must have the same value; REGEX: must match <paramref name="Regex"/>.</param>
/// <param name="Regex">The pattern of a REGEX match, else null.</param>
public readonly record struct ReferencedAttribute(string Name, string? MapKey, Condition Condition, string? Regex = null)
{
    /// <summary>The condition's name as in Istio's protos: <c>ABSENCE</c>, <c>EXACT</c>, <c>REGEX</c>.</summary>
    public string ConditionName => Condition switch
    {
        Condition.Absence => "ABSENCE",
        Condition.Exact => "EXACT",
        Condition.Regex => "REGEX",
        Condition.Unspecified => "CONDITION_UNSPECIFIED",
        _ => ((int)Condition).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Istio mixc's form: <c>name CONDITION</c>, or <c>name::key CONDITION</c> for a map key.</summary>
    public override string ToString() => MapKey is null ? $"{Name} {ConditionName}" : $"{Name}::{MapKey} {ConditionName}";
}

/// <summary>
/// Reads the <see cref="ReferencedAttributes"/> of a Check answer (precondition or quota result):
/// which attributes and map keys it depended on, the key a client-side check cache is built from.
/// </summary>
/// <remarks>
/// <para>Word indexes resolve as in requests: <c>i &gt;= 0</c> is global word i, <c>i &lt; 0</c> is word
/// <c>-1 - i</c> of the message's own <c>words</c>; an index outside both is an error (Istio's proxy then
/// does not cache the answer).</para>
/// <para><c>map_key</c> is a proto3 scalar, so "no key" and "global word 0" look alike on the wire. Given
/// the request's attributes, a key is read exactly when the attribute is a string map in the request,
/// as Istio's proxy does; without them, <c>map_key</c> 0 means "no key", as Istio's mixc does.</para>
/// </remarks>
public static class ReferencedAttributesDecoder
{
    /// <summary>Resolves every match of <paramref name="referenced"/>.</summary>
    /// <param name="referenced">The answer's referenced attributes (null reads as none).</param>
    /// <param name="request">The attributes the request was built from, to tell map keys apart (see remarks), or null.</param>
    /// <param name="matches">The matches in wire order, when every index resolves.</param>
    /// <param name="error">Which match and index did not resolve, when one did not.</param>
    public static bool TryDecode(ReferencedAttributes? referenced, Attributes? request, out IReadOnlyList<ReferencedAttribute> matches, out string? error)
    {
        matches = [];
        error = null;
        if (referenced is null || referenced.AttributeMatches.Count == 0)
        {
            return true;
        }

        var result = new ReferencedAttribute[referenced.AttributeMatches.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var match = referenced.AttributeMatches[i];
            if (!TryWord(referenced, match.Name, out var name))
            {
                error = Undefined(referenced, i, "name", match.Name);
                return false;
            }

            string? key = null;
            var isMap = request is null
                ? match.MapKey != 0
                : request.Attributes_.TryGetValue(name, out var value) && value.ValueCase == Attributes.Types.AttributeValue.ValueOneofCase.StringMapValue;
            if (isMap && !TryWord(referenced, match.MapKey, out key))
            {
                error = Undefined(referenced, i, "map_key", match.MapKey);
                return false;
            }

            result[i] = new ReferencedAttribute(name, key, match.Condition, match.Condition == Condition.Regex ? match.Regex : null);
        }

        matches = result;
        return true;
    }

    /// <summary>As <see cref="TryDecode"/>, throwing on an index that does not resolve.</summary>
    /// <exception cref="FormatException">An index names no word.</exception>
    public static IReadOnlyList<ReferencedAttribute> Decode(ReferencedAttributes? referenced, Attributes? request = null) =>
        TryDecode(referenced, request, out var matches, out var error) ? matches : throw new FormatException(error);

    private static bool TryWord(ReferencedAttributes referenced, int index, out string word)
    {
        if (index >= 0 && index < GlobalDictionary.Count)
        {
            word = GlobalDictionary.Word(index);
            return true;
        }

        var slot = -1L - index;
        if (index < 0 && slot < referenced.Words.Count)
        {
            word = referenced.Words[(int)slot];
            return true;
        }

        word = string.Empty;
        return false;
    }

    private static string Undefined(ReferencedAttributes referenced, int match, string field, int index) =>
        $"attribute_matches[{match}].{field}: word index {index} is not defined: the global dictionary has {GlobalDictionary.Count} words (indexes 0..{GlobalDictionary.Count - 1}) and the message {referenced.Words.Count} (indexes -1..{-referenced.Words.Count})";
}
