namespace Mixer.Runtime.Config;

/// <summary>The config kinds Mixer reads, as Istio 1.0 (mixer/pkg/runtime/config/kinds.go).</summary>
public static class Kinds
{
    /// <summary>apiVersion of every Mixer kind.</summary>
    public const string MixerApiVersion = "config.istio.io/v1alpha2";

    /// <summary>apiVersion of the rbac adapter's ServiceRole and ServiceRoleBinding.</summary>
    public const string RbacApiVersion = "rbac.istio.io/v1alpha1";

    /// <summary>The generic kinds.</summary>
    public static readonly IReadOnlySet<string> Generic = new HashSet<string>(StringComparer.Ordinal)
    {
        "rule", "attributemanifest", "adapter", "template", "handler", "instance",
    };

    /// <summary>The 1.0 per-adapter kinds (spec = that adapter's params), plus our <c>elasticsearch</c> and <c>script</c>.</summary>
    public static readonly IReadOnlySet<string> Adapters = new HashSet<string>(StringComparer.Ordinal)
    {
        "bypass", "circonus", "cloudwatch", "denier", "dogstatsd", "elasticsearch", "fluentd", "kubernetesenv", "listchecker", "memquota",
        "noop", "opa", "prometheus", "rbac", "redisquota", "script", "servicecontrol", "signalfx", "solarwinds", "stackdriver",
        "statsd", "stdio",
    };

    /// <summary>The 1.0 per-template kinds (spec = the template's instance params, every leaf an expression).</summary>
    public static readonly IReadOnlySet<string> Templates = new HashSet<string>(StringComparer.Ordinal)
    {
        "apikey", "authorization", "checknothing", "edge", "listentry", "logentry", "metric", "quota", "reportnothing",
        "tracespan", "servicecontrolreport", "kubernetes",
    };

    /// <summary>Kinds of config.istio.io that proxies read, not Mixer: accepted and left alone.</summary>
    public static readonly IReadOnlySet<string> ClientSide = new HashSet<string>(StringComparer.Ordinal)
    {
        "HTTPAPISpec", "HTTPAPISpecBinding", "QuotaSpec", "QuotaSpecBinding",
    };

    /// <summary>rbac.istio.io kinds, read by the rbac adapter.</summary>
    public static readonly IReadOnlySet<string> Rbac = new HashSet<string>(StringComparer.Ordinal)
    {
        "ServiceRole", "ServiceRoleBinding", "RbacConfig",
    };

    /// <summary>Whether Mixer keeps documents of <paramref name="kind"/>.</summary>
    public static bool IsMixerKind(string kind) =>
        Generic.Contains(kind) || Adapters.Contains(kind) || Templates.Contains(kind) || Rbac.Contains(kind);
}
