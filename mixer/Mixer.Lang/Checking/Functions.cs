using Mixer.Lang.Syntax;
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

    /// <summary>How many operands each implemented operator takes.</summary>
    public static readonly IReadOnlyDictionary<string, int> IntrinsicArity = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["EQ"] = 2, ["NEQ"] = 2, ["LT"] = 2, ["LEQ"] = 2, ["GT"] = 2, ["GEQ"] = 2, ["OR"] = 2, ["LOR"] = 2, ["LAND"] = 2,
        ["ADD"] = 2, ["INDEX"] = 2, ["NOT"] = 1,
    };

    /// <summary>
    /// Istio's quirk in <c>a | b</c>: its code generator lets constants, attributes, map lookups,
    /// <c>|</c>, conditional and extern calls supply the value of a <c>|</c> operand, but emits no
    /// jump for these operators, so their value is dropped and the next operand is evaluated
    /// (<c>(x == y) | z</c> is <c>z</c>, after x == y is evaluated). We keep that behaviour: configs
    /// written against Istio give the same answers here.
    /// </summary>
    public static bool IsSkippedAsDefaultOperand(Expr e) =>
        e is CallExpr { Target: null, Name: "EQ" or "NEQ" or "LT" or "LEQ" or "GT" or "GEQ" or "LOR" or "LAND" or "ADD" or "size" };

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
