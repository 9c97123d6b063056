using System.Globalization;
using Google.Protobuf;
using Istio.Mixer.V1;
using Mixer.Client;
using Mixer.Sdk;
using ProtoDuration = Google.Protobuf.WellKnownTypes.Duration;
using ProtoTimestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using WireValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Cli;

/// <summary>One kind of typed attribute flag (<c>--int64_attributes</c>…) and how its values read.</summary>
internal sealed record AttributeKind(string Flag, string? Alias, string What, string Description, Func<string, WireValue?> Parse);

/// <summary>
/// mixc's attribute flags, read as Istio's mixc reads them: each flag value is
/// <c>name1=value1,name2=value2</c> (flags may also be repeated); kinds are applied in the order
/// string, int64, double, bool, timestamp, duration, bytes, stringmap, then the auto-sensed
/// <c>--attributes</c>, a later value replacing an earlier one of the same name.
/// </summary>
internal static class AttributeFlags
{
    public static readonly AttributeKind[] Kinds =
    [
        new("--string_attributes", "-s", "string", "string attributes: name1=value1,name2=value2", v => new WireValue { StringValue = v }),
        new("--int64_attributes", "-i", "int64 (base 10)", "int64 attributes: name1=42,name2=-7", ParseInt64),
        new("--double_attributes", "-d", "double", "double attributes: name1=0.5,name2=1e3", ParseDouble),
        new("--bool_attributes", "-b", "bool (true/false, t/f, 1/0)", "bool attributes: name1=true,name2=f", ParseBool),
        new("--timestamp_attributes", "-t", "RFC 3339 timestamp (e.g. 2018-07-31T12:00:00Z)", "timestamp attributes (RFC 3339): name1=2018-07-31T12:00:00Z", ParseTimestamp),
        new("--duration_attributes", null, "Go duration (e.g. 10ms, 1.5s, 2h45m)", "duration attributes (Go form): name1=10ms,name2=1.5s", ParseDuration),
        new("--bytes_attributes", null, "bytes value (colon-separated hex, e.g. 0a:00:00:01)", "bytes attributes as colon-separated hex (IP addresses too): name1=0a:00:00:01", ParseBytes),
        new("--stringmap_attributes", null, "string map (k1:v1;k2:v2)", "string map attributes: name1=k1:v1;k2:v2,name2=k3:v3", ParseStringMap),
        new("--attributes", "-a", "value", "auto-sensed attributes (int64, double, bool, timestamp, duration, bytes, string map, else string): name1=value1,name2=value2", ParseAny),
    ];

    /// <summary>Builds the attribute set from each kind's flag values (in <see cref="Kinds"/> order).</summary>
    public static bool TryBuild(IReadOnlyList<IReadOnlyList<string>> valuesByKind, out Attributes attributes, out string? error)
    {
        attributes = new Attributes();
        for (var k = 0; k < Kinds.Length; k++)
        {
            var kind = Kinds[k];
            foreach (var flagValue in valuesByKind[k])
            {
                if (flagValue.Length == 0)
                {
                    continue;
                }

                foreach (var segment in flagValue.Split(','))
                {
                    var eq = segment.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        error = eq < 0
                            ? $"{kind.Flag} '{segment}': write name=value"
                            : $"{kind.Flag} '{segment}': the attribute name is missing before '='";
                        return false;
                    }

                    var text = segment[(eq + 1)..];
                    if (kind.Parse(text) is not { } value)
                    {
                        error = $"{kind.Flag} '{segment}': '{text}' is not a valid {kind.What}";
                        return false;
                    }

                    attributes.Attributes_[segment[..eq]] = value;
                }
            }
        }

        error = null;
        return true;
    }

    private static WireValue? ParseInt64(string s) =>
        long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? new WireValue { Int64Value = v } : null;

    // Go's strconv.ParseFloat: decimal or exponent forms, inf/infinity/nan in any case, no spaces.
    private static WireValue? ParseDouble(string s)
    {
        var unsigned = s.TrimStart('+', '-');
        if (unsigned.Length < s.Length - 1)
        {
            return null;
        }

        if (unsigned.Equals("inf", StringComparison.OrdinalIgnoreCase) || unsigned.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            return new WireValue { DoubleValue = s[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity };
        }

        if (unsigned.Equals("nan", StringComparison.OrdinalIgnoreCase))
        {
            return new WireValue { DoubleValue = double.NaN };
        }

        const NumberStyles style = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
        var startsLikeANumber = unsigned.Length > 0 && (char.IsAsciiDigit(unsigned[0]) || unsigned[0] == '.');
        if (!startsLikeANumber || !double.TryParse(s, style, CultureInfo.InvariantCulture, out var v))
        {
            return null;
        }

        return new WireValue { DoubleValue = v };
    }

    // Go's strconv.ParseBool.
    private static WireValue? ParseBool(string s) => s switch
    {
        "1" or "t" or "T" or "TRUE" or "true" or "True" => new WireValue { BoolValue = true },
        "0" or "f" or "F" or "FALSE" or "false" or "False" => new WireValue { BoolValue = false },
        _ => null,
    };

    private static WireValue? ParseTimestamp(string s) =>
        Rfc3339.TryParse(s, out var seconds, out var nanos)
            ? new WireValue { TimestampValue = new ProtoTimestamp { Seconds = seconds, Nanos = nanos } }
            : null;

    private static WireValue? ParseDuration(string s) =>
        GoDuration.TryParse(s, out var nanos)
            ? new WireValue { DurationValue = new ProtoDuration { Seconds = nanos / 1_000_000_000, Nanos = (int)(nanos % 1_000_000_000) } }
            : null;

    // Istio's form: each colon-separated segment a hex number 0..ff (one or two digits, or more with leading zeros).
    private static WireValue? ParseBytes(string s)
    {
        var segments = s.Split(':');
        var bytes = new byte[segments.Length];
        for (var i = 0; i < segments.Length; i++)
        {
            if (segments[i].Length == 0 || !segments[i].All(char.IsAsciiHexDigit)
                || !uint.TryParse(segments[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b) || b > 255)
            {
                return null;
            }

            bytes[i] = (byte)b;
        }

        return new WireValue { BytesValue = ByteString.CopyFrom(bytes) };
    }

    // Istio's form: k1:v1;k2:v2, each pair split at its first colon; every pair needs one.
    private static WireValue? ParseStringMap(string s)
    {
        var map = new Attributes.Types.StringMap();
        foreach (var pair in s.Split(';'))
        {
            var colon = pair.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return null;
            }

            map.Entries[pair[..colon]] = pair[(colon + 1)..];
        }

        return new WireValue { StringMapValue = map };
    }

    private static WireValue ParseAny(string s) =>
        ParseInt64(s) ?? ParseDouble(s) ?? ParseBool(s) ?? ParseTimestamp(s) ?? ParseDuration(s) ?? ParseBytes(s) ?? ParseStringMap(s)
        ?? new WireValue { StringValue = s };
}
