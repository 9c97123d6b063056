using System.Net;
using Google.Protobuf;
using Istio.Mixer.V1;
using ProtoDuration = Google.Protobuf.WellKnownTypes.Duration;
using ProtoTimestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Client;

/// <summary>
/// Fluent setters for <see cref="Attributes"/>, Istio's uncompressed attribute set (the form the
/// proxy builds before compressing). Each setter replaces any value the name had and returns the
/// same instance, so a set reads as one expression:
/// <code>new Attributes().SetString("destination.service", "reviews").SetInt64("response.code", 200)</code>
/// </summary>
/// <remarks>
/// The wire has no distinct types for DNS names, emails and URIs (they travel as strings) or for
/// IP addresses (they travel as 4 or 16 raw bytes): use <see cref="SetString"/> and
/// <see cref="SetIpAddress"/>.
/// </remarks>
public static class AttributesExtensions
{
    /// <summary>Sets a STRING (or DNS_NAME, EMAIL_ADDRESS, URI) attribute.</summary>
    public static Attributes SetString(this Attributes attributes, string name, string value) =>
        Set(attributes, name, new AttributeValue { StringValue = value ?? throw new ArgumentNullException(nameof(value)) });

    /// <summary>Sets an INT64 attribute.</summary>
    public static Attributes SetInt64(this Attributes attributes, string name, long value) =>
        Set(attributes, name, new AttributeValue { Int64Value = value });

    /// <summary>Sets a DOUBLE attribute.</summary>
    public static Attributes SetDouble(this Attributes attributes, string name, double value) =>
        Set(attributes, name, new AttributeValue { DoubleValue = value });

    /// <summary>Sets a BOOL attribute.</summary>
    public static Attributes SetBool(this Attributes attributes, string name, bool value) =>
        Set(attributes, name, new AttributeValue { BoolValue = value });

    /// <summary>Sets a TIMESTAMP attribute (nanosecond precision).</summary>
    public static Attributes SetTimestamp(this Attributes attributes, string name, ProtoTimestamp value) =>
        Set(attributes, name, new AttributeValue { TimestampValue = value ?? throw new ArgumentNullException(nameof(value)) });

    /// <summary>Sets a TIMESTAMP attribute (precision 100 ns, that of <see cref="DateTimeOffset"/>).</summary>
    public static Attributes SetTimestamp(this Attributes attributes, string name, DateTimeOffset value) =>
        SetTimestamp(attributes, name, ProtoTimestamp.FromDateTimeOffset(value));

    /// <summary>Sets a DURATION attribute (nanosecond precision).</summary>
    public static Attributes SetDuration(this Attributes attributes, string name, ProtoDuration value) =>
        Set(attributes, name, new AttributeValue { DurationValue = value ?? throw new ArgumentNullException(nameof(value)) });

    /// <summary>Sets a DURATION attribute (precision 100 ns, that of <see cref="TimeSpan"/>).</summary>
    public static Attributes SetDuration(this Attributes attributes, string name, TimeSpan value) =>
        SetDuration(attributes, name, ProtoDuration.FromTimeSpan(value));

    /// <summary>Sets a BYTES attribute (the bytes are copied).</summary>
    public static Attributes SetBytes(this Attributes attributes, string name, ReadOnlySpan<byte> value) =>
        Set(attributes, name, new AttributeValue { BytesValue = ByteString.CopyFrom(value) });

    /// <summary>Sets an IP_ADDRESS attribute: 4 bytes for IPv4, 16 for IPv6, as Istio sends them.</summary>
    public static Attributes SetIpAddress(this Attributes attributes, string name, IPAddress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return SetBytes(attributes, name, value.GetAddressBytes());
    }

    /// <summary>Sets a STRING_MAP attribute (the entries are copied; a repeated key keeps its last value).</summary>
    public static Attributes SetStringMap(this Attributes attributes, string name, IEnumerable<KeyValuePair<string, string>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var map = new Attributes.Types.StringMap();
        foreach (var (k, v) in entries)
        {
            map.Entries[k] = v;
        }

        return Set(attributes, name, new AttributeValue { StringMapValue = map });
    }

    private static Attributes Set(Attributes attributes, string name, AttributeValue value)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        ArgumentException.ThrowIfNullOrEmpty(name);
        attributes.Attributes_[name] = value;
        return attributes;
    }
}
