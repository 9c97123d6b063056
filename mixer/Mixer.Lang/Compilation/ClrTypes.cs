using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Compilation;

/// <summary>How each CEXL type is held in compiled code: unboxed, and never copied into a heap object.</summary>
internal static class ClrTypes
{
    public static Type Of(ValueType type) => type switch
    {
        ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => typeof(string),
        ValueType.Int64 or ValueType.Duration => typeof(long),
        ValueType.Double => typeof(double),
        ValueType.Bool => typeof(bool),
        ValueType.Timestamp => typeof(AttributeValue),
        ValueType.IpAddress or ValueType.Bytes => typeof(byte[]),
        ValueType.StringMap => typeof(IStringMap),
        _ => throw new InvalidOperationException($"no representation for {type.ToIstioName()}"),
    };
}

/// <summary>A compiled evaluation: true with the value, or false with the error message.</summary>
internal delegate bool Evaluator<T>(IAttributeBag bag, out T value, out string? error);
