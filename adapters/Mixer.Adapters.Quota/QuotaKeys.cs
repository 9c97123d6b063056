using System.Globalization;
using System.Text;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Adapters.Quota;

/// <summary>How quota adapters name a counter and pick an override, shared by memquota and redisquota.</summary>
internal static class QuotaKeys
{
    /// <summary>
    /// <c>name;dim1=v1;dim2=v2</c> with dimensions sorted by name, so the same dimensions always
    /// name the same counter (in every process: redisquota keys are shared). <c>;</c>, <c>=</c> and
    /// <c>\</c> inside names and values are escaped so two different dimension sets never collide.
    /// </summary>
    public static string Make(string instanceName, IReadOnlyDictionary<string, AttributeValue> dimensions)
    {
        var sb = new StringBuilder(instanceName.Length + (dimensions.Count * 16));
        AppendEscaped(sb, instanceName);
        foreach (var (k, v) in dimensions.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            sb.Append(';');
            AppendEscaped(sb, k);
            sb.Append('=');
            AppendEscaped(sb, Text(v));
        }

        return sb.ToString();
    }

    /// <summary>
    /// True when every configured dimension is present in the instance with the same text (the
    /// instance value stringified, as Istio compares override dimensions).
    /// </summary>
    public static bool Matches(IReadOnlyDictionary<string, string> configured, IReadOnlyDictionary<string, AttributeValue> instance)
    {
        foreach (var (k, want) in configured)
        {
            if (!instance.TryGetValue(k, out var have) || !string.Equals(Text(have), want, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The text of a dimension value: strings as they are, everything else in its usual printed form.</summary>
    public static string Text(AttributeValue value) => value.Type switch
    {
        ValueType.Unspecified => string.Empty,
        ValueType.Int64 => value.AsInt64.ToString(CultureInfo.InvariantCulture),
        _ when value.Type.IsStringLike() => value.AsString,
        _ => value.ToString(),
    };

    private static void AppendEscaped(StringBuilder sb, string text)
    {
        foreach (var c in text)
        {
            if (c is ';' or '=' or '\\')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }
    }
}
