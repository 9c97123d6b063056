using System.Globalization;
using System.Net;

namespace Mixer.Sdk;

/// <summary>
/// One typed attribute value. A small struct: numbers, booleans, durations and timestamps are held
/// inline, so reading them never allocates.
/// </summary>
/// <remarks>
/// Durations and timestamps have nanosecond precision, as in Istio (Go's <c>time.Duration</c> and
/// <c>time.Time</c>). String-typed values (string, DNS name, email, URI) share one representation.
/// </remarks>
public readonly struct AttributeValue : IEquatable<AttributeValue>
{
    private readonly long _bits;
    private readonly int _nanos;
    private readonly object? _ref;

    private AttributeValue(ValueType type, long bits, int nanos, object? reference)
    {
        Type = type;
        _bits = bits;
        _nanos = nanos;
        _ref = reference;
    }

    /// <summary>The value's type; <see cref="ValueType.Unspecified"/> for the default value.</summary>
    public ValueType Type { get; }

    /// <summary>True for a value that holds nothing (the default struct).</summary>
    public bool IsEmpty => Type == ValueType.Unspecified;

    /// <summary>A string value.</summary>
    public static AttributeValue String(string value) => new(ValueType.String, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>A string-carried value of a string-like type (DNS name, email, URI or string).</summary>
    public static AttributeValue StringLike(ValueType type, string value)
    {
        if (!type.IsStringLike())
        {
            throw new ArgumentException($"{type.ToIstioName()} is not carried as a string", nameof(type));
        }

        return new(type, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>An int64 value.</summary>
    public static AttributeValue Int64(long value) => new(ValueType.Int64, value, 0, null);

    /// <summary>A double value.</summary>
    public static AttributeValue Double(double value) => new(ValueType.Double, BitConverter.DoubleToInt64Bits(value), 0, null);

    /// <summary>A boolean value.</summary>
    public static AttributeValue Bool(bool value) => new(ValueType.Bool, value ? 1 : 0, 0, null);

    /// <summary>A duration of <paramref name="nanoseconds"/>.</summary>
    public static AttributeValue DurationNanos(long nanoseconds) => new(ValueType.Duration, nanoseconds, 0, null);

    /// <summary>A duration (precision 100 ns, that of <see cref="TimeSpan"/>).</summary>
    public static AttributeValue Duration(TimeSpan value) => DurationNanos(checked(value.Ticks * 100));

    /// <summary>A timestamp <paramref name="seconds"/> and <paramref name="nanos"/> after the Unix epoch.</summary>
    public static AttributeValue Timestamp(long seconds, int nanos)
    {
        if (nanos is < 0 or > 999_999_999)
        {
            throw new ArgumentOutOfRangeException(nameof(nanos), nanos, "nanos must be 0..999999999");
        }

        return new(ValueType.Timestamp, seconds, nanos, null);
    }

    /// <summary>A timestamp (precision 100 ns).</summary>
    public static AttributeValue Timestamp(DateTimeOffset value)
    {
        var ticks = value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rem);
        if (rem < 0)
        {
            seconds--;
            rem += TimeSpan.TicksPerSecond;
        }

        return new(ValueType.Timestamp, seconds, (int)(rem * 100), null);
    }

    /// <summary>An IP address value (4 or 16 bytes).</summary>
    public static AttributeValue IpAddress(byte[] address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.Length is not (4 or 16))
        {
            throw new ArgumentException($"an IP address has 4 or 16 bytes, not {address.Length}", nameof(address));
        }

        return new(ValueType.IpAddress, 0, 0, address);
    }

    /// <summary>An IP address value.</summary>
    public static AttributeValue IpAddress(IPAddress address) => IpAddress(address.GetAddressBytes());

    /// <summary>A raw bytes value.</summary>
    public static AttributeValue Bytes(byte[] value) => new(ValueType.Bytes, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>A string map value.</summary>
    public static AttributeValue StringMap(IStringMap value) => new(ValueType.StringMap, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>The string of a string-like value (string, DNS name, email, URI).</summary>
    public string AsString => Type.IsStringLike() ? (string)_ref! : throw WrongType(ValueType.String);

    /// <summary>The int64 value.</summary>
    public long AsInt64 => Type == ValueType.Int64 ? _bits : throw WrongType(ValueType.Int64);

    /// <summary>The double value.</summary>
    public double AsDouble => Type == ValueType.Double ? BitConverter.Int64BitsToDouble(_bits) : throw WrongType(ValueType.Double);

    /// <summary>The boolean value.</summary>
    public bool AsBool => Type == ValueType.Bool ? _bits != 0 : throw WrongType(ValueType.Bool);

    /// <summary>The duration in nanoseconds.</summary>
    public long AsDurationNanos => Type == ValueType.Duration ? _bits : throw WrongType(ValueType.Duration);

    /// <summary>The duration (rounded down to 100 ns).</summary>
    public TimeSpan AsDuration => TimeSpan.FromTicks(AsDurationNanos / 100);

    /// <summary>Seconds since the Unix epoch of a timestamp.</summary>
    public long TimestampSeconds => Type == ValueType.Timestamp ? _bits : throw WrongType(ValueType.Timestamp);

    /// <summary>Nanoseconds within the second of a timestamp (0..999,999,999).</summary>
    public int TimestampNanos => Type == ValueType.Timestamp ? _nanos : throw WrongType(ValueType.Timestamp);

    /// <summary>The timestamp (rounded down to 100 ns).</summary>
    public DateTimeOffset AsTimestamp =>
        DateTimeOffset.UnixEpoch.AddTicks((TimestampSeconds * TimeSpan.TicksPerSecond) + (_nanos / 100));

    /// <summary>The bytes of an IP address or bytes value. Do not modify the array.</summary>
    public byte[] AsBytes => Type is ValueType.IpAddress or ValueType.Bytes ? (byte[])_ref! : throw WrongType(ValueType.Bytes);

    /// <summary>The string map.</summary>
    public IStringMap AsStringMap => Type == ValueType.StringMap ? (IStringMap)_ref! : throw WrongType(ValueType.StringMap);

    /// <summary>The same value seen as another type of the same representation (bytes as IP, string as DNS name…).</summary>
    public AttributeValue WithType(ValueType type)
    {
        var same = (Type.IsStringLike() && type.IsStringLike())
            || (Type is ValueType.Bytes or ValueType.IpAddress && type is ValueType.Bytes or ValueType.IpAddress)
            || Type == type;
        if (!same)
        {
            throw new InvalidCastException($"a {Type.ToIstioName()} value cannot be read as {type.ToIstioName()}");
        }

        return new AttributeValue(type, _bits, _nanos, _ref);
    }

    /// <inheritdoc/>
    public bool Equals(AttributeValue other)
    {
        if (Type != other.Type)
        {
            return false;
        }

        return Type switch
        {
            ValueType.Unspecified => true,
            ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => string.Equals((string)_ref!, (string)other._ref!, StringComparison.Ordinal),
            ValueType.Double => AsDouble.Equals(other.AsDouble),
            ValueType.IpAddress or ValueType.Bytes => ((byte[])_ref!).AsSpan().SequenceEqual((byte[])other._ref!),
            ValueType.StringMap => StringMaps.ContentEquals(AsStringMap, other.AsStringMap),
            _ => _bits == other._bits && _nanos == other._nanos,
        };
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is AttributeValue other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Type switch
    {
        ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => HashCode.Combine(Type, ((string)_ref!).GetHashCode(StringComparison.Ordinal)),
        ValueType.IpAddress or ValueType.Bytes => HashCode.Combine(Type, ((byte[])_ref!).Length),
        ValueType.StringMap => HashCode.Combine(Type, AsStringMap.Count),
        _ => HashCode.Combine(Type, _bits, _nanos),
    };

    /// <summary>Equality of values.</summary>
    public static bool operator ==(AttributeValue left, AttributeValue right) => left.Equals(right);

    /// <summary>Inequality of values.</summary>
    public static bool operator !=(AttributeValue left, AttributeValue right) => !left.Equals(right);

    /// <summary>A human-readable form: strings as they are, durations like <c>1.5s</c>, timestamps in RFC 3339.</summary>
    public override string ToString() => Type switch
    {
        ValueType.Unspecified => "<empty>",
        ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => (string)_ref!,
        ValueType.Int64 => _bits.ToString(CultureInfo.InvariantCulture),
        ValueType.Double => AsDouble.ToString("R", CultureInfo.InvariantCulture),
        ValueType.Bool => _bits != 0 ? "true" : "false",
        ValueType.Duration => GoDuration.Format(_bits),
        ValueType.Timestamp => Rfc3339.Format(_bits, _nanos),
        ValueType.IpAddress => new IPAddress((byte[])_ref!).ToString(),
        ValueType.Bytes => Convert.ToHexString((byte[])_ref!).ToLowerInvariant(),
        ValueType.StringMap => StringMaps.Format(AsStringMap),
        _ => "?",
    };

    private InvalidCastException WrongType(ValueType wanted) =>
        new($"attribute value is {Type.ToIstioName()}, not {wanted.ToIstioName()}");
}
