namespace Mixer.Runtime.Config;

/// <summary>
/// Identifies a config resource as Istio does: kind, namespace and name. Its fully qualified name
/// is <c>name.kind.namespace</c> (e.g. <c>requestcount.metric.istio-system</c>).
/// </summary>
public readonly record struct ResourceKey(string Kind, string Namespace, string Name)
{
    /// <summary>The fully qualified name, <c>name.kind.namespace</c>.</summary>
    public string FullName => $"{Name}.{Kind}.{Namespace}";

    /// <inheritdoc/>
    public override string ToString() => $"{Kind}/{Namespace}/{Name}";
}

/// <summary>Where something was written: a file and a 1-based line.</summary>
public readonly record struct SourcePosition(string File, int Line)
{
    /// <inheritdoc/>
    public override string ToString() => Line > 0 ? $"{File}:{Line}" : File;
}

/// <summary>One document of operator config: the envelope and its spec.</summary>
/// <param name="Key">Kind, namespace, name.</param>
/// <param name="Spec">The <c>spec</c> mapping (empty when absent).</param>
/// <param name="Position">Where the document starts.</param>
/// <param name="Digest">A digest of the document's text: equal digests mean an unchanged resource.</param>
public sealed record ConfigResource(ResourceKey Key, ConfigMap Spec, SourcePosition Position, string Digest);

/// <summary>
/// A config error that teaches: where (file:line), which resource, which field, and why.
/// </summary>
public sealed record ConfigError(SourcePosition Position, ResourceKey? Resource, string Field, string Reason)
{
    /// <inheritdoc/>
    public override string ToString()
    {
        var what = Resource is { } r ? $" {r.Kind} {r.Namespace}/{r.Name}:" : string.Empty;
        var field = Field.Length > 0 ? $" {Field}:" : string.Empty;
        return $"{Position}:{what}{field} {Reason}";
    }
}
