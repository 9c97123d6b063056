using Mixer.Lang.Checking;
using Mixer.Lang.Runtime;
using Mixer.Lang.Syntax;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Tests.Reference;

/// <summary>
/// A deliberately plain tree-walking evaluator over the checked (unfolded) tree: the oracle for
/// differential tests against the compiler, and the speed baseline in the benchmarks. It shares
/// only the leaf semantics (<see cref="Builtins"/>) with the compiler, not its control flow,
/// folding or code generation. It lives in tests and benchmarks only.
/// </summary>
internal sealed class TreeWalker
{
    private readonly Expr _root;

    public TreeWalker(Expr checkedRoot) => _root = checkedRoot;

    public static TreeWalker For(string text, IAttributeManifest manifest)
    {
        var compiler = new ExpressionCompiler(manifest);
        if (!compiler.TryCheck(text, out var tree, out var error))
        {
            throw new ExpressionCompileException(error);
        }

        return new TreeWalker(tree);
    }

    public EvalResult Evaluate(IAttributeBag bag)
    {
        var o = Eval(_root, bag, tryMode: false);
        return o.Error is null ? EvalResult.Ok(o.Value) : EvalResult.Failed(o.Error);
    }

    private readonly record struct Outcome(AttributeValue Value, string? Error, bool Absent)
    {
        public bool Ok => Error is null && !Absent;

        public static Outcome Of(AttributeValue v) => new(v, null, false);

        public static Outcome Fail(string e) => new(default, e, false);

        public static readonly Outcome Missing = new(default, null, true);
    }

    private static Outcome Eval(Expr e, IAttributeBag bag, bool tryMode)
    {
        switch (e)
        {
            case ConstantExpr c:
                return Outcome.Of(FromClr(c.Type, c.Value));
            case VariableExpr v:
                if (!bag.TryGet(v.Handle, out var raw))
                {
                    return tryMode ? Outcome.Missing : Outcome.Fail($"lookup failed: '{v.Name}'");
                }

                return Convert(v.Type, raw);
            case CallExpr call:
                return Call(call, bag, tryMode);
            default:
                return Outcome.Fail("unexpected node");
        }
    }

    private static Outcome Convert(ValueType type, AttributeValue raw)
    {
        var ok = type switch
        {
            ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => Builtins.AsString(raw, out _, out var err) ? null : err,
            ValueType.Int64 or ValueType.Duration => Builtins.AsInt64(raw, out _, out var err) ? null : err,
            ValueType.Double => Builtins.AsDouble(raw, out _, out var err) ? null : err,
            ValueType.Bool => Builtins.AsBool(raw, out _, out var err) ? null : err,
            ValueType.Timestamp => Builtins.AsTimestamp(raw, out _, out var err) ? null : err,
            ValueType.IpAddress or ValueType.Bytes => Builtins.AsIp(raw, out _, out var err) ? null : err,
            ValueType.StringMap => Builtins.AsStringMap(raw, out _, out var err) ? null : err,
            _ => "bad type",
        };
        return ok is null ? Outcome.Of(Builtins.Box(type, raw)) : Outcome.Fail(ok);
    }

    private static Outcome Call(CallExpr c, IAttributeBag bag, bool tryMode)
    {
        switch (c.Name)
        {
            case "OR":
                {
                    if (Functions.IsSkippedAsDefaultOperand(c.Args[0]))
                    {
                        // Istio's quirk: such an operand never supplies the value, but it runs.
                        var skipped = Eval(c.Args[0], bag, tryMode: false);
                        return skipped.Error is not null ? skipped : Eval(c.Args[1], bag, tryMode);
                    }

                    var left = Eval(c.Args[0], bag, tryMode: true);
                    return left.Absent ? Eval(c.Args[1], bag, tryMode) : left;
                }

            case "INDEX":
                {
                    if (c.Args[0] is VariableExpr mv)
                    {
                        var key = Eval(c.Args[1], bag, tryMode);
                        if (!key.Ok)
                        {
                            return key;
                        }

                        if (bag.TryGetMapValue(mv.Handle, key.Value.AsString, out var s))
                        {
                            return Outcome.Of(AttributeValue.String(s));
                        }

                        if (tryMode)
                        {
                            return Outcome.Missing;
                        }

                        return bag.Names.Contains(mv.Name) ? Outcome.Of(AttributeValue.String(string.Empty)) : Outcome.Fail($"lookup failed: '{mv.Name}'");
                    }

                    var map = Eval(c.Args[0], bag, tryMode);
                    if (!map.Ok)
                    {
                        return map;
                    }

                    var k = Eval(c.Args[1], bag, tryMode);
                    if (!k.Ok)
                    {
                        return k;
                    }

                    if (map.Value.AsStringMap.TryGetValue(k.Value.AsString, out var found))
                    {
                        return Outcome.Of(AttributeValue.String(found));
                    }

                    return tryMode ? Outcome.Missing : Outcome.Of(AttributeValue.String(string.Empty));
                }

            case "LOR":
            case "LAND":
                {
                    var l = Eval(c.Args[0], bag, false);
                    if (!l.Ok)
                    {
                        return l;
                    }

                    var shortCircuit = c.Name == "LOR" ? l.Value.AsBool : !l.Value.AsBool;
                    return shortCircuit ? l : Eval(c.Args[1], bag, false);
                }

            case "conditional":
                {
                    var cond = Eval(c.Args[0], bag, false);
                    if (!cond.Ok)
                    {
                        return cond;
                    }

                    return Eval(cond.Value.AsBool ? c.Args[1] : c.Args[2], bag, false);
                }
        }

        // Everything else evaluates all operands first.
        AttributeValue target = default;
        if (c.Target is not null)
        {
            var t = Eval(c.Target, bag, false);
            if (!t.Ok)
            {
                return t;
            }

            target = t.Value;
        }

        var args = new AttributeValue[c.Args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            var a = Eval(c.Args[i], bag, false);
            if (!a.Ok)
            {
                return a;
            }

            args[i] = a.Value;
        }

        return Apply(c, target, args);
    }

    private static Outcome Apply(CallExpr c, AttributeValue target, AttributeValue[] a)
    {
        switch (c.Name)
        {
            case "EQ":
            case "NEQ":
                {
                    bool eq;
                    switch (c.Args[0].Type)
                    {
                        case ValueType.DnsName:
                            if (!Builtins.DnsNameEqual(a[0].AsString, a[1].AsString, out eq, out var e1))
                            {
                                return Outcome.Fail(e1!);
                            }

                            break;
                        case ValueType.EmailAddress:
                            if (!Builtins.EmailEqual(a[0].AsString, a[1].AsString, out eq, out var e2))
                            {
                                return Outcome.Fail(e2!);
                            }

                            break;
                        case ValueType.Uri:
                            if (!Builtins.UriEqual(a[0].AsString, a[1].AsString, out eq, out var e3))
                            {
                                return Outcome.Fail(e3!);
                            }

                            break;
                        case ValueType.IpAddress:
                            eq = Builtins.IpEqual(a[0].AsBytes, a[1].AsBytes);
                            break;
                        case ValueType.Double:
                            eq = a[0].AsDouble == a[1].AsDouble;
                            break;
                        default:
                            eq = a[0].Equals(a[1]);
                            break;
                    }

                    return Bool(c.Name == "EQ" ? eq : !eq);
                }

            case "LT":
            case "LEQ":
            case "GT":
            case "GEQ":
                {
                    if (c.Args[0].Type == ValueType.Double && (double.IsNaN(a[0].AsDouble) || double.IsNaN(a[1].AsDouble)))
                    {
                        return Bool(false);
                    }

                    var cmp = c.Args[0].Type switch
                    {
                        ValueType.String => Builtins.CompareStrings(a[0].AsString, a[1].AsString),
                        ValueType.Int64 => a[0].AsInt64.CompareTo(a[1].AsInt64),
                        ValueType.Duration => a[0].AsDurationNanos.CompareTo(a[1].AsDurationNanos),
                        ValueType.Double => a[0].AsDouble.CompareTo(a[1].AsDouble),
                        _ => Builtins.CompareTimestamps(a[0], a[1]),
                    };
                    return Bool(c.Name switch { "LT" => cmp < 0, "LEQ" => cmp <= 0, "GT" => cmp > 0, _ => cmp >= 0 });
                }

            case "NOT":
                return Bool(!a[0].AsBool);
            case "ADD":
                return Outcome.Of(c.Type switch
                {
                    ValueType.String => AttributeValue.String(a[0].AsString + a[1].AsString),
                    ValueType.Int64 => AttributeValue.Int64(unchecked(a[0].AsInt64 + a[1].AsInt64)),
                    _ => AttributeValue.Double(a[0].AsDouble + a[1].AsDouble),
                });
            case "match":
                return Bool(Builtins.Match(a[0].AsString, a[1].AsString));
            case "startsWith":
                return Bool(target.AsString.StartsWith(a[0].AsString, StringComparison.Ordinal));
            case "endsWith":
                return Bool(target.AsString.EndsWith(a[0].AsString, StringComparison.Ordinal));
            case "matches":
                return Builtins.Matches(target.AsString, a[0].AsString, out var m, out var me) ? Bool(m) : Outcome.Fail(me!);
            case "toLower":
                return Outcome.Of(AttributeValue.String(a[0].AsString.ToLowerInvariant()));
            case "size":
                return Outcome.Of(AttributeValue.Int64(System.Text.Encoding.UTF8.GetByteCount(a[0].AsString)));
            case "conditionalString":
                return Outcome.Of(a[0].AsBool ? a[1] : a[2]);
            case "emptyStringMap":
                return Outcome.Of(AttributeValue.StringMap(StringMapValue.Empty));
            case "ip":
                return Builtins.ParseIp(a[0].AsString, out var ip, out var ipe) ? Outcome.Of(AttributeValue.IpAddress(ip)) : Outcome.Fail(ipe!);
            case "timestamp":
                return Builtins.ParseTimestamp(a[0].AsString, out var ts, out var tse) ? Outcome.Of(ts) : Outcome.Fail(tse!);
            case "dnsName":
                return Builtins.DnsName(a[0].AsString, out var dns, out var de) ? Outcome.Of(AttributeValue.StringLike(ValueType.DnsName, dns)) : Outcome.Fail(de!);
            case "email":
                return Builtins.Email(a[0].AsString, out var em, out var ee) ? Outcome.Of(AttributeValue.StringLike(ValueType.EmailAddress, em)) : Outcome.Fail(ee!);
            case "uri":
                return Builtins.Uri(a[0].AsString, out var u, out var ue) ? Outcome.Of(AttributeValue.StringLike(ValueType.Uri, u)) : Outcome.Fail(ue!);
            default:
                return Outcome.Fail("no such function " + c.Name);
        }
    }

    private static Outcome Bool(bool b) => Outcome.Of(AttributeValue.Bool(b));

    private static AttributeValue FromClr(ValueType type, object value) => type switch
    {
        ValueType.String => AttributeValue.String((string)value),
        ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => AttributeValue.StringLike(type, (string)value),
        ValueType.Int64 => AttributeValue.Int64((long)value),
        ValueType.Duration => AttributeValue.DurationNanos((long)value),
        ValueType.Double => AttributeValue.Double((double)value),
        ValueType.Bool => AttributeValue.Bool((bool)value),
        ValueType.Timestamp => (AttributeValue)value,
        ValueType.IpAddress => AttributeValue.IpAddress((byte[])value),
        ValueType.StringMap => AttributeValue.StringMap((IStringMap)value),
        _ => throw new InvalidOperationException(),
    };
}
