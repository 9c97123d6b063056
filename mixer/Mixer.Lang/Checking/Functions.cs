using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Checking;

/// <summary>
/// Signature of an extern function. <see cref="ValueType.Unspecified"/> in an argument slot is
/// generic: all such slots take one type T, and an unspecified return type returns T.
/// </summary>
internal sealed record FunctionInfo(string Name, ValueType Returns, ValueType[] Args, ValueType Target = ValueType.Unspecified, bool Instance = false);

internal static class Functions
{
    private static readonly ValueType S = ValueType.String;

    /// <summary>Istio 1.0's externs plus 1.1's toLower and size.</summary>
    public static readonly IReadOnlyDictionary<string, FunctionInfo> Externs = new[]
    {
        new FunctionInfo("ip", ValueType.IpAddress, [S]),
        new FunctionInfo("timestamp", ValueType.Timestamp, [S]),
        new FunctionInfo("dnsName", ValueType.DnsName, [S]),
        new FunctionInfo("email", ValueType.EmailAddress, [S]),
        new FunctionInfo("uri", ValueType.Uri, [S]),
        new FunctionInfo("match", ValueType.Bool, [S, S]),
        new FunctionInfo("matches", ValueType.Bool, [S], S, Instance: true),
        new FunctionInfo("startsWith", ValueType.Bool, [S], S, Instance: true),
        new FunctionInfo("endsWith", ValueType.Bool, [S], S, Instance: true),
        new FunctionInfo("emptyStringMap", ValueType.StringMap, []),
        new FunctionInfo("conditionalString", ValueType.String, [ValueType.Bool, S, S]),
        new FunctionInfo("conditional", ValueType.Unspecified, [ValueType.Bool, ValueType.Unspecified, ValueType.Unspecified]),
        new FunctionInfo("toLower", ValueType.String, [S]),
        new FunctionInfo("size", ValueType.Int64, [S]),
    }.ToDictionary(f => f.Name, StringComparer.Ordinal);

    /// <summary>Go operators that parse but that CEXL never implemented.</summary>
    public static readonly IReadOnlyDictionary<string, string> Unsupported = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["SUB"] = "-",
        ["MUL"] = "*",
        ["QUO"] = "/",
        ["REM"] = "%",
        ["AND"] = "&",
        ["XOR"] = "^",
        ["SHL"] = "<<",
        ["SHR"] = ">>",
        ["AND_NOT"] = "&^",
    };
}
