namespace Mixer.Runtime.Config;

/// <summary>Istio 1.0's resolution of references in rules (mixer/pkg/runtime/config).</summary>
internal static class Names
{
    /// <summary>
    /// The candidate keys a reference may mean: <c>x</c> → x.kind.ruleNamespace; <c>x.y</c> → either
    /// x.y.ruleNamespace (y is a kind) or x.kind.y (y is a namespace); <c>x.y.z</c> → itself.
    /// </summary>
    public static IEnumerable<(string Name, string? Kind, string Namespace)> Candidates(string reference, string ruleNamespace)
    {
        var parts = reference.Split('.');
        switch (parts.Length)
        {
            case 1:
                yield return (parts[0], null, ruleNamespace);
                break;
            case 2:
                yield return (parts[0], parts[1], ruleNamespace);
                yield return (parts[0], null, parts[1]);
                break;
            case 3:
                yield return (parts[0], parts[1], parts[2]);
                break;
            default:
                // A namespace may not contain dots, but a name might: take the last two as kind and namespace.
                yield return (string.Join('.', parts[..^2]), parts[^2], parts[^1]);
                break;
        }
    }

    /// <summary>The short name of a fully qualified name: the part before the first dot.</summary>
    public static string ShortName(string fullName)
    {
        var dot = fullName.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? fullName : fullName[..dot];
    }
}
