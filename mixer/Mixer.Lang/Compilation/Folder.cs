using Mixer.Lang.Checking;
using Mixer.Lang.Runtime;
using Mixer.Lang.Syntax;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Compilation;

/// <summary>
/// Constant folding over a checked tree: sub-expressions that read no attribute are computed
/// once, at compile time. A constant computation that fails (ip("10.1.12")) is left alone, so
/// it fails at evaluation time exactly as Istio's does, and only when it is reached.
/// </summary>
internal static class Folder
{
    public static Expr Fold(Expr e)
    {
        if (e is not CallExpr call)
        {
            return e;
        }

        if (call.Name == "OR" && Functions.IsSkippedAsDefaultOperand(call.Args[0]))
        {
            // Istio evaluates such a left operand (it may fail) and goes on to the right one.
            var skipped = Fold(call.Args[0]);
            var next = Fold(call.Args[1]);
            return skipped is ConstantExpr
                ? next
                : new CallExpr(call.Pos, call.End, "OR", null, [new CallExpr(skipped.Pos, skipped.End, "SKIP", null, [skipped]) { Type = skipped.Type }, next], call.Operator) { Type = call.Type };
        }

        var target = call.Target is null ? null : Fold(call.Target);
        var args = call.Args.Select(Fold).ToArray();
        var folded = new CallExpr(call.Pos, call.End, call.Name, target, args, call.Operator) { Type = call.Type };
        return TryFold(folded) ?? folded;
    }

    private static Expr? TryFold(CallExpr c)
    {
        var a = c.Args;
        switch (c.Name)
        {
            // Short-circuit operators fold on a constant left operand alone.
            case "LOR" when a[0] is ConstantExpr l:
                return (bool)l.Value ? l : Strict(a[1]);
            case "LAND" when a[0] is ConstantExpr l:
                return (bool)l.Value ? Strict(a[1]) : l;
            case "conditional" when a[0] is ConstantExpr cond:
                return Strict((bool)cond.Value ? a[1] : a[2]);

            // x && true is x, x || false is x (x still runs: it may fail).
            case "LOR" when a[1] is ConstantExpr { Value: false }:
                return Strict(a[0]);
            case "LAND" when a[1] is ConstantExpr { Value: true }:
                return Strict(a[0]);
            case "OR" when a[0] is ConstantExpr l:
                return Const(c, l.Value);
            case "conditional" when a[0] is ConstantExpr cond:
                return (bool)cond.Value ? a[1] : a[2];
        }

        if ((c.Target is not null && c.Target is not ConstantExpr) || a.Any(x => x is not ConstantExpr))
        {
            return null;
        }

        var v = a.Select(x => ((ConstantExpr)x).Value).ToArray();
        var t = (c.Target as ConstantExpr)?.Value;
        var argType = a.Length > 0 ? a[0].Type : ValueType.Unspecified;
        switch (c.Name)
        {
            case "EQ" or "NEQ" when argType is ValueType.String or ValueType.Int64 or ValueType.Double or ValueType.Bool or ValueType.Duration:
                var eq = argType switch
                {
                    ValueType.String => string.Equals((string)v[0], (string)v[1], StringComparison.Ordinal),
                    ValueType.Double => (double)v[0] == (double)v[1],
                    _ => v[0].Equals(v[1]),
                };
                return Const(c, c.Name == "EQ" ? eq : !eq);
            case "EQ" or "NEQ" when argType == ValueType.IpAddress:
                var ipEq = Builtins.IpEqual((byte[])v[0], (byte[])v[1]);
                return Const(c, c.Name == "EQ" ? ipEq : !ipEq);
            case "EQ" or "NEQ" when argType == ValueType.Timestamp:
                var tsEq = Builtins.TimestampEqual((AttributeValue)v[0], (AttributeValue)v[1]);
                return Const(c, c.Name == "EQ" ? tsEq : !tsEq);
            case "LT" or "LEQ" or "GT" or "GEQ":
                var cmp = argType switch
                {
                    ValueType.String => Builtins.CompareStrings((string)v[0], (string)v[1]),
                    ValueType.Int64 or ValueType.Duration => ((long)v[0]).CompareTo((long)v[1]),
                    ValueType.Double => CompareDoubles((double)v[0], (double)v[1]),
                    ValueType.Timestamp => Builtins.CompareTimestamps((AttributeValue)v[0], (AttributeValue)v[1]),
                    _ => (int?)null,
                };
                if (cmp is not { } r)
                {
                    return null;
                }

                return Const(c, c.Name switch
                {
                    "LT" => r < 0 && r != int.MinValue,
                    "LEQ" => r <= 0 && r != int.MinValue,
                    "GT" => r > 0 && r != int.MinValue,
                    _ => r >= 0 && r != int.MinValue,
                });
            case "NOT":
                return Const(c, !(bool)v[0]);
            case "ADD":
                return Const(c, argType switch
                {
                    ValueType.String => (string)v[0] + (string)v[1],
                    ValueType.Int64 => unchecked((long)v[0] + (long)v[1]),
                    _ => (object)((double)v[0] + (double)v[1]),
                });
            case "INDEX":
                // A missing key is "" in a strict context but falls through under '|': leave that to run time.
                return ((IStringMap)v[0]).TryGetValue((string)v[1], out var found) ? Const(c, found) : null;
            case "match":
                return Const(c, Builtins.Match((string)v[0], (string)v[1]));
            case "startsWith":
                return Const(c, Builtins.StartsWith((string)t!, (string)v[0]));
            case "endsWith":
                return Const(c, Builtins.EndsWith((string)t!, (string)v[0]));
            case "matches":
                return Builtins.Matches((string)t!, (string)v[0], out var m, out _) ? Const(c, m) : null;
            case "toLower":
                return Const(c, Builtins.ToLower((string)v[0]));
            case "size":
                return Const(c, Builtins.Size((string)v[0]));
            case "conditionalString":
                return Const(c, (bool)v[0] ? v[1] : v[2]);
            case "emptyStringMap":
                return Const(c, Builtins.EmptyStringMap());
            case "ip":
                return Builtins.ParseIp((string)v[0], out var ip, out _) ? Const(c, ip) : null;
            case "timestamp":
                return Builtins.ParseTimestamp((string)v[0], out var ts, out _) ? Const(c, ts) : null;
            case "dnsName":
                return Builtins.DnsName((string)v[0], out var dns, out _) ? Const(c, dns) : null;
            case "email":
                return Builtins.Email((string)v[0], out var email, out _) ? Const(c, email) : null;
            case "uri":
                return Builtins.Uri((string)v[0], out var uri, out _) ? Const(c, uri) : null;
            default:
                return null;
        }
    }

    /// <summary>
    /// Keeps an operand that replaces its (folded) parent evaluated strictly: inside a <c>|</c> an
    /// absent attribute falls through, but conditional(true, a, b) | c must fail when a is absent,
    /// as the unfolded call would.
    /// </summary>
    private static Expr Strict(Expr e) =>
        e is VariableExpr or CallExpr { Name: "INDEX" or "OR" } ? new CallExpr(e.Pos, e.End, "STRICT", null, [e]) { Type = e.Type } : e;

    /// <summary>Go's float comparison: NaN is unordered (every comparison false).</summary>
    private static int CompareDoubles(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? int.MinValue : a.CompareTo(b);

    private static ConstantExpr Const(CallExpr c, object value) => new(c.Pos, c.End, c.Type, value);
}
