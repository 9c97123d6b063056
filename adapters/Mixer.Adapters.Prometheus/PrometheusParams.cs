using System.Globalization;
using System.Text.RegularExpressions;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Prometheus;

/// <summary>Istio 1.0's <c>adapter.prometheus.config.Params</c>.</summary>
internal sealed class PrometheusParams
{
    public List<MetricInfo> Metrics { get; set; } = [];

    public ExpirationPolicy? MetricsExpirationPolicy { get; set; }
}

/// <summary>How one metric instance is represented in Prometheus.</summary>
internal sealed class MetricInfo
{
    public string Namespace { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string InstanceName { get; set; } = string.Empty;

    public string Description { get; set; } = string.Empty;

    public MetricKind Kind { get; set; }

    public BucketsDefinition? Buckets { get; set; }

    public List<string> LabelNames { get; set; } = [];
}

internal enum MetricKind
{
    Unspecified = 0,
    Gauge = 1,
    Counter = 2,
    Distribution = 3,
}

/// <summary>Istio's oneof <c>definition</c>: one of the three.</summary>
internal sealed class BucketsDefinition
{
    public LinearBuckets? LinearBuckets { get; set; }

    public ExponentialBuckets? ExponentialBuckets { get; set; }

    public ExplicitBuckets? ExplicitBuckets { get; set; }
}

internal sealed class LinearBuckets
{
    public int NumFiniteBuckets { get; set; }

    public double Width { get; set; }

    public double Offset { get; set; }
}

internal sealed class ExponentialBuckets
{
    public int NumFiniteBuckets { get; set; }

    public double GrowthFactor { get; set; }

    public double Scale { get; set; }
}

internal sealed class ExplicitBuckets
{
    public List<double> Bounds { get; set; } = [];
}

/// <summary>Label sets not updated for <c>metricsExpiryDuration</c> are removed (checked every <c>expiryCheckIntervalDuration</c>).</summary>
internal sealed class ExpirationPolicy
{
    public TimeSpan MetricsExpiryDuration { get; set; }

    public TimeSpan ExpiryCheckIntervalDuration { get; set; }
}

/// <summary>A metric as exported: its Prometheus name, labels and buckets, resolved from a <see cref="MetricInfo"/>.</summary>
internal sealed record MetricShape(string ExportedName, string InstanceName, MetricKind Kind, string Help, IReadOnlyList<string> LabelNames, IReadOnlyList<string> Dimensions, double[]? Buckets)
{
    /// <summary>What must match for two handlers (or two generations of one) to share a collector.</summary>
    public string Signature => string.Join('\n', Kind, Help, string.Join(',', LabelNames), Buckets is null ? string.Empty : string.Join(',', Buckets.Select(b => b.ToString("R", CultureInfo.InvariantCulture))));
}

internal static partial class Shapes
{
    public const string DefaultNamespace = "istio";

    /// <summary>Prometheus's default buckets, used (as Istio did) when a distribution names none.</summary>
    public static readonly double[] DefaultBuckets = [.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10];

    /// <summary>Istio's safeName: a leading '/' trimmed, '/', '.' and ' ' to '_', '-' removed.</summary>
    public static string SafeName(string name) =>
        name.TrimStart('/').Replace('/', '_').Replace('.', '_').Replace(' ', '_').Replace("-", string.Empty, StringComparison.Ordinal);

    /// <summary>Resolves every metric, adding a problem (by field path) for each thing Prometheus or Istio would refuse.</summary>
    public static List<MetricShape> Resolve(PrometheusParams p, List<ConfigProblem> problems)
    {
        var shapes = new List<MetricShape>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var instances = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < p.Metrics.Count; i++)
        {
            var m = p.Metrics[i];
            var at = $"metrics[{i}]";
            var before = problems.Count;
            if (string.IsNullOrWhiteSpace(m.InstanceName))
            {
                problems.Add(new ConfigProblem(at + ".instanceName", "missing: the fully qualified metric instance this metric records (e.g. requestcount.metric.istio-system)"));
            }
            else if (!instances.TryAdd(m.InstanceName, i))
            {
                problems.Add(new ConfigProblem(at + ".instanceName", $"'{m.InstanceName}' is already recorded by metrics[{instances[m.InstanceName]}]"));
            }

            var ns = m.Namespace.Length > 0 ? SafeName(m.Namespace) : DefaultNamespace;
            var exported = ns + "_" + SafeName(m.Name.Length > 0 ? m.Name : m.InstanceName);
            if (!MetricName().IsMatch(exported))
            {
                problems.Add(new ConfigProblem(at + (m.Name.Length > 0 ? ".name" : ".namespace"), $"'{exported}' is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"));
            }
            else if (!names.TryAdd(exported, i))
            {
                problems.Add(new ConfigProblem(at + ".name", $"'{exported}' is already exported by metrics[{names[exported]}]; Prometheus names must be unique"));
            }

            if (m.Kind == MetricKind.Unspecified)
            {
                problems.Add(new ConfigProblem(at + ".kind", "missing: one of GAUGE, COUNTER, DISTRIBUTION"));
            }

            var labels = new List<string>();
            for (var j = 0; j < m.LabelNames.Count; j++)
            {
                var label = SafeName(m.LabelNames[j]);
                if (!LabelName().IsMatch(label) || label.StartsWith("__", StringComparison.Ordinal) || (m.Kind == MetricKind.Distribution && label == "le"))
                {
                    problems.Add(new ConfigProblem($"{at}.labelNames[{j}]", $"'{label}' is not a usable Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __{(m.Kind == MetricKind.Distribution ? ", not 'le'" : string.Empty)})"));
                }
                else if (labels.Contains(label))
                {
                    problems.Add(new ConfigProblem($"{at}.labelNames[{j}]", $"'{label}' is listed twice"));
                }

                labels.Add(label);
            }

            double[]? buckets = null;
            if (m.Kind == MetricKind.Distribution)
            {
                buckets = Buckets(m.Buckets, at + ".buckets", problems);
            }

            if (problems.Count == before)
            {
                var help = m.Description.Length > 0 ? m.Description : (m.Name.Length > 0 ? m.Name : m.InstanceName);
                shapes.Add(new MetricShape(exported, m.InstanceName, m.Kind, help, labels, m.LabelNames, buckets));
            }
        }

        if (p.MetricsExpirationPolicy is { } e)
        {
            if (e.MetricsExpiryDuration <= TimeSpan.Zero)
            {
                problems.Add(new ConfigProblem("metricsExpirationPolicy.metricsExpiryDuration", "must be a duration > 0 (e.g. 10m)"));
            }

            if (e.ExpiryCheckIntervalDuration < TimeSpan.Zero)
            {
                problems.Add(new ConfigProblem("metricsExpirationPolicy.expiryCheckIntervalDuration", "must not be negative (0 checks every half expiry duration)"));
            }
        }

        return shapes;
    }

    private static double[]? Buckets(BucketsDefinition? def, string at, List<ConfigProblem> problems)
    {
        var given = def is null ? 0 : (def.LinearBuckets is null ? 0 : 1) + (def.ExponentialBuckets is null ? 0 : 1) + (def.ExplicitBuckets is null ? 0 : 1);
        if (given > 1)
        {
            problems.Add(new ConfigProblem(at, "give one of linearBuckets, exponentialBuckets, explicitBuckets"));
            return null;
        }

        if (def?.LinearBuckets is { } l)
        {
            if (l.NumFiniteBuckets <= 0)
            {
                problems.Add(new ConfigProblem(at + ".linearBuckets.numFiniteBuckets", "must be > 0"));
            }

            if (l.Width <= 0)
            {
                problems.Add(new ConfigProblem(at + ".linearBuckets.width", "must be > 0"));
            }

            return l.NumFiniteBuckets > 0 && l.Width > 0 ? Enumerable.Range(0, l.NumFiniteBuckets + 1).Select(k => l.Offset + (k * l.Width)).ToArray() : null;
        }

        if (def?.ExponentialBuckets is { } x)
        {
            if (x.NumFiniteBuckets <= 0)
            {
                problems.Add(new ConfigProblem(at + ".exponentialBuckets.numFiniteBuckets", "must be > 0"));
            }

            if (x.GrowthFactor <= 1)
            {
                problems.Add(new ConfigProblem(at + ".exponentialBuckets.growthFactor", "must be > 1"));
            }

            if (x.Scale <= 0)
            {
                problems.Add(new ConfigProblem(at + ".exponentialBuckets.scale", "must be > 0"));
            }

            return x.NumFiniteBuckets > 0 && x.GrowthFactor > 1 && x.Scale > 0
                ? Enumerable.Range(0, x.NumFiniteBuckets + 1).Select(k => x.Scale * Math.Pow(x.GrowthFactor, k)).ToArray()
                : null;
        }

        if (def?.ExplicitBuckets is { } e)
        {
            if (e.Bounds.Count == 0)
            {
                problems.Add(new ConfigProblem(at + ".explicitBuckets.bounds", "must hold at least one bound"));
                return null;
            }

            for (var k = 1; k < e.Bounds.Count; k++)
            {
                if (!(e.Bounds[k] > e.Bounds[k - 1]))
                {
                    problems.Add(new ConfigProblem($"{at}.explicitBuckets.bounds[{k}]", $"{e.Bounds[k].ToString(CultureInfo.InvariantCulture)} must be greater than the bound before it"));
                    return null;
                }
            }

            return [.. e.Bounds];
        }

        return DefaultBuckets;
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();
}
