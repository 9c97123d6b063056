namespace Mixer.Sdk;

/// <summary>
/// The type of an attribute value. Names and numbers match Istio's
/// <c>istio.policy.v1beta1.ValueType</c>; <see cref="Bytes"/> is ours, for a value carried in the
/// wire's <c>bytes</c> map that no manifest declares an <see cref="IpAddress"/>.
/// </summary>
public enum ValueType
{
    /// <summary>No type: an unknown or untyped value.</summary>
    Unspecified = 0,

    /// <summary>A UTF-8 string.</summary>
    String = 1,

    /// <summary>A 64-bit signed integer.</summary>
    Int64 = 2,

    /// <summary>A 64-bit floating point number.</summary>
    Double = 3,

    /// <summary>A boolean.</summary>
    Bool = 4,

    /// <summary>A point in time with nanosecond precision.</summary>
    Timestamp = 5,

    /// <summary>An IPv4 or IPv6 address, 4 or 16 bytes.</summary>
    IpAddress = 6,

    /// <summary>An email address, carried as a string.</summary>
    EmailAddress = 7,

    /// <summary>A URI, carried as a string.</summary>
    Uri = 8,

    /// <summary>A DNS name, carried as a string.</summary>
    DnsName = 9,

    /// <summary>A span of time with nanosecond precision.</summary>
    Duration = 10,

    /// <summary>A map from string to string.</summary>
    StringMap = 11,

    /// <summary>Raw bytes (not part of Istio's ValueType enum).</summary>
    Bytes = 12,
}

/// <summary>Helpers for <see cref="ValueType"/>.</summary>
public static class ValueTypes
{
    /// <summary>Istio's upper-case name of the type (<c>STRING</c>, <c>IP_ADDRESS</c>, …).</summary>
    public static string ToIstioName(this ValueType type) => type switch
    {
        ValueType.String => "STRING",
        ValueType.Int64 => "INT64",
        ValueType.Double => "DOUBLE",
        ValueType.Bool => "BOOL",
        ValueType.Timestamp => "TIMESTAMP",
        ValueType.IpAddress => "IP_ADDRESS",
        ValueType.EmailAddress => "EMAIL_ADDRESS",
        ValueType.Uri => "URI",
        ValueType.DnsName => "DNS_NAME",
        ValueType.Duration => "DURATION",
        ValueType.StringMap => "STRING_MAP",
        ValueType.Bytes => "BYTES",
        _ => "VALUE_TYPE_UNSPECIFIED",
    };

    /// <summary>Parses Istio's upper-case name of a type; false for anything else.</summary>
    public static bool TryParseIstioName(string? name, out ValueType type)
    {
        type = name switch
        {
            "STRING" => ValueType.String,
            "INT64" => ValueType.Int64,
            "DOUBLE" => ValueType.Double,
            "BOOL" => ValueType.Bool,
            "TIMESTAMP" => ValueType.Timestamp,
            "IP_ADDRESS" => ValueType.IpAddress,
            "EMAIL_ADDRESS" => ValueType.EmailAddress,
            "URI" => ValueType.Uri,
            "DNS_NAME" => ValueType.DnsName,
            "DURATION" => ValueType.Duration,
            "STRING_MAP" => ValueType.StringMap,
            "BYTES" => ValueType.Bytes,
            _ => ValueType.Unspecified,
        };
        return type != ValueType.Unspecified;
    }

    /// <summary>True for the types carried as strings on the wire (string, DNS name, email, URI).</summary>
    public static bool IsStringLike(this ValueType type) =>
        type is ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri;
}
