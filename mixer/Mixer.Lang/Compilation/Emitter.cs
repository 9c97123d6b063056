using System.Linq.Expressions;
using System.Reflection;
using System.Text.RegularExpressions;
using Mixer.Lang.Runtime;
using Mixer.Lang.Syntax;
using Mixer.Sdk;
using LinqExpr = System.Linq.Expressions.Expression;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Compilation;

/// <summary>
/// Turns a checked, folded tree into one <see cref="Evaluator{T}"/> delegate.
/// </summary>
/// <remarks>
/// Code is generated in statement form, like Istio's IL: every step that can fail or find an
/// attribute absent is a statement that jumps (to the failure exit, or in a <c>|</c> operand to the
/// next operand); every value is a side-effect-free expression over locals. Jumps therefore only
/// ever leave statements, never the middle of an expression. Values stay unboxed (string, long,
/// double, bool, byte[], IStringMap, and AttributeValue for timestamps), and error messages known
/// at compile time are constants, so evaluating the common shapes allocates nothing.
/// </remarks>
internal sealed class Emitter
{
    private static readonly MethodInfo s_tryGet = typeof(IAttributeBag).GetMethod(nameof(IAttributeBag.TryGet), [typeof(AttributeName), typeof(AttributeValue).MakeByRefType()])!;
    private static readonly MethodInfo s_wireTryGetString = typeof(ProtoBag).GetMethod(nameof(ProtoBag.TryGetString))!;
    private static readonly MethodInfo s_wireTryGetFirstString = typeof(ProtoBag).GetMethod(nameof(ProtoBag.TryGetFirstString))!;
    private static readonly MethodInfo s_tryGetFirst = typeof(IAttributeBag).GetMethod(nameof(IAttributeBag.TryGetFirst))!;
    private static readonly MethodInfo s_tryGetMapValue = typeof(IAttributeBag).GetMethod(nameof(IAttributeBag.TryGetMapValue))!;
    private static readonly MethodInfo s_mapTryGetValue = typeof(IStringMap).GetMethod(nameof(IStringMap.TryGetValue))!;
    private static readonly MethodInfo s_startsWith = typeof(string).GetMethod(nameof(string.StartsWith), [typeof(string), typeof(StringComparison)])!;
    private static readonly MethodInfo s_endsWith = typeof(string).GetMethod(nameof(string.EndsWith), [typeof(string), typeof(StringComparison)])!;
    private static readonly MethodInfo s_stringEquals = typeof(string).GetMethod(nameof(string.Equals), [typeof(string), typeof(string)])!;

    // ProtoBag's implementation of each IAttributeBag method the compiled code calls (declared
    // after the fields it reads: static initializers run in order).
    private static readonly Dictionary<MethodInfo, MethodInfo> s_wireMethods = new[] { s_tryGet, s_tryGetFirst, s_tryGetMapValue }
        .ToDictionary(m => m, m => typeof(ProtoBag).GetMethod(m.Name, m.GetParameters().Select(p => p.ParameterType).ToArray())!);

    private readonly ParameterExpression _bag = LinqExpr.Parameter(typeof(IAttributeBag), "bag");

    // The request's bag as the server makes it, when it is one: lookups then call ProtoBag
    // directly (it is sealed) instead of through the interface.
    private readonly ParameterExpression _wire = LinqExpr.Variable(typeof(ProtoBag), "wire");
    private readonly ParameterExpression _error = LinqExpr.Parameter(typeof(string).MakeByRefType(), "error");
    private readonly LabelTarget _fail = LinqExpr.Label("fail");
    private readonly List<ParameterExpression> _locals = [];
    private List<LinqExpr> _stmts = [];

    private Emitter()
    {
    }

    /// <summary>The compiled delegate (an <see cref="Evaluator{T}"/> of the root's CLR type).</summary>
    public static Delegate Emit(Expr root) => EmitLambda(root).Compile();

    /// <summary>The code as an expression tree, to compile to IL or to interpret.</summary>
    public static LambdaExpression EmitLambda(Expr root)
    {
        var e = new Emitter();
        var clr = ClrTypes.Of(root.Type);
        var method = typeof(Emitter).GetMethod(nameof(Build), BindingFlags.NonPublic | BindingFlags.Instance)!.MakeGenericMethod(clr);
        return (LambdaExpression)method.Invoke(e, [root])!;
    }

    private Expression<Evaluator<T>> Build<T>(Expr root)
    {
        var valueParam = LinqExpr.Parameter(typeof(T).MakeByRefType(), "value");
        var value = Value(root);
        var ret = LinqExpr.Label(typeof(bool), "return");
        var body = new List<LinqExpr> { LinqExpr.Assign(_wire, LinqExpr.TypeAs(_bag, typeof(ProtoBag))) };
        body.AddRange(_stmts);
        body.AddRange(new List<LinqExpr>
        {
            LinqExpr.Assign(valueParam, value),
            LinqExpr.Assign(_error, LinqExpr.Constant(null, typeof(string))),
            LinqExpr.Return(ret, LinqExpr.Constant(true)),
            LinqExpr.Label(_fail),
            LinqExpr.Assign(valueParam, LinqExpr.Default(typeof(T))),
            LinqExpr.Label(ret, LinqExpr.Constant(false)),
        });
        _locals.Add(_wire);
        return LinqExpr.Lambda<Evaluator<T>>(LinqExpr.Block(typeof(bool), _locals, body), "cexl", [_bag, valueParam, _error]);
    }

    // ---- helpers ----

    private ParameterExpression Local(Type type)
    {
        var p = LinqExpr.Variable(type);
        _locals.Add(p);
        return p;
    }

    private ParameterExpression Local(ValueType type) => Local(ClrTypes.Of(type));

    private void Add(LinqExpr stmt) => _stmts.Add(stmt);

    private LinqExpr Fail() => LinqExpr.Goto(_fail);

    private LinqExpr FailWith(string message) =>
        LinqExpr.Block(LinqExpr.Assign(_error, LinqExpr.Constant(message)), LinqExpr.Goto(_fail));

    /// <summary>Emits <c>if (!call) goto fail;</c> for a helper that reports its own error.</summary>
    private void Check(LinqExpr call) => Add(LinqExpr.IfThen(LinqExpr.Not(call), Fail()));

    /// <summary>Runs <paramref name="emit"/> into a separate statement list and returns it as one block.</summary>
    private LinqExpr Nested(Action emit)
    {
        var saved = _stmts;
        _stmts = [];
        emit();
        LinqExpr block = _stmts.Count == 0 ? LinqExpr.Empty() : LinqExpr.Block(typeof(void), _stmts);
        _stmts = saved;
        return block;
    }

    /// <summary>A bag method, called on ProtoBag directly when the bag is one.</summary>
    private LinqExpr BagCall(MethodInfo method, params LinqExpr[] args)
    {
        var direct = s_wireMethods[method];
        return LinqExpr.Condition(
            LinqExpr.NotEqual(_wire, LinqExpr.Constant(null, typeof(ProtoBag))),
            LinqExpr.Call(_wire, direct, args),
            LinqExpr.Call(_bag, method, args));
    }

    private static MethodInfo Builtin(string name) => typeof(Builtins).GetMethod(name, BindingFlags.Public | BindingFlags.Static)
        ?? throw new InvalidOperationException("no builtin " + name);

    private static LinqExpr Call(string builtin, params LinqExpr[] args) => LinqExpr.Call(Builtin(builtin), args);

    private static string LookupFailed(string name) => $"lookup failed: '{name}'";

    // ---- values ----

    /// <summary>Emits the statements computing <paramref name="e"/>; returns its value expression.</summary>
    private LinqExpr Value(Expr e) => e switch
    {
        ConstantExpr c => LinqExpr.Constant(c.Value, ClrTypes.Of(c.Type)),
        VariableExpr v => Resolve(v, absent: null),
        CallExpr call => Call(call, absent: null),
        _ => throw new InvalidOperationException("unexpected node"),
    };

    /// <summary>
    /// The operand of a <c>|</c>: like <see cref="Value"/>, but an absent attribute or map key
    /// jumps to <paramref name="absent"/> instead of failing.
    /// </summary>
    private LinqExpr TryValue(Expr e, LabelTarget absent) => e switch
    {
        VariableExpr v => Resolve(v, absent),
        CallExpr { Name: "INDEX" or "OR" } call => Call(call, absent),

        // Constants and calls always produce a value (or an error).
        _ => Value(e),
    };

    private LinqExpr Resolve(VariableExpr v, LabelTarget? absent)
    {
        var missing = absent is null ? FailWith(LookupFailed(v.Name)) : LinqExpr.Goto(absent);
        if (v.Type.IsStringLike())
        {
            // From the wire bag, a string comes straight out of its slot; anything unusual (another
            // bag, a value of another type) takes the general path below, which also words the error.
            var s = Local(typeof(string));
            var general = LinqExpr.Label("general");
            var done = LinqExpr.Label("resolved");
            var outcome = Local(typeof(int));
            Add(LinqExpr.IfThen(LinqExpr.Equal(_wire, LinqExpr.Constant(null, typeof(ProtoBag))), LinqExpr.Goto(general)));
            Add(LinqExpr.Assign(outcome, LinqExpr.Call(_wire, s_wireTryGetString, LinqExpr.Constant(v.Handle), s)));
            Add(LinqExpr.IfThen(LinqExpr.Equal(outcome, LinqExpr.Constant(1)), LinqExpr.Goto(done)));
            Add(LinqExpr.IfThen(LinqExpr.Equal(outcome, LinqExpr.Constant(0)), missing));
            Add(LinqExpr.Label(general));
            Add(LinqExpr.Assign(outcome, Call(nameof(Builtins.ResolveString), _bag, LinqExpr.Constant(v.Handle), s, _error)));
            Add(LinqExpr.IfThen(LinqExpr.Equal(outcome, LinqExpr.Constant(0)), missing));
            Add(LinqExpr.IfThen(LinqExpr.LessThan(outcome, LinqExpr.Constant(0)), Fail()));
            Add(LinqExpr.Label(done));
            return s;
        }

        var raw = Local(typeof(AttributeValue));
        var found = BagCall(s_tryGet, LinqExpr.Constant(v.Handle), raw);
        Add(LinqExpr.IfThen(LinqExpr.Not(found), missing));
        return Typed(v.Type, raw);
    }

    /// <summary>Emits the check that a looked-up value has the manifest's type; returns the CLR value.</summary>
    private LinqExpr Typed(ValueType type, ParameterExpression raw)
    {
        var converter = type switch
        {
            ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri => nameof(Builtins.AsString),
            ValueType.Int64 or ValueType.Duration => nameof(Builtins.AsInt64),
            ValueType.Double => nameof(Builtins.AsDouble),
            ValueType.Bool => nameof(Builtins.AsBool),
            ValueType.Timestamp => nameof(Builtins.AsTimestamp),
            ValueType.IpAddress or ValueType.Bytes => nameof(Builtins.AsIp),
            ValueType.StringMap => nameof(Builtins.AsStringMap),
            _ => throw new InvalidOperationException("unexpected type"),
        };
        var typed = Local(type);
        Check(Call(converter, raw, typed, _error));
        return typed;
    }

    private LinqExpr Call(CallExpr c, LabelTarget? absent)
    {
        switch (c.Name)
        {
            case "STRICT":
                return Value(c.Args[0]);
            case "OR":
                return Or(c, absent);
            case "INDEX":
                return Index(c, absent);
            case "LOR":
            case "LAND":
                {
                    var r = Local(typeof(bool));
                    Add(LinqExpr.Assign(r, Value(c.Args[0])));
                    var right = Nested(() => Add(LinqExpr.Assign(r, Value(c.Args[1]))));
                    Add(LinqExpr.IfThen(c.Name == "LOR" ? LinqExpr.Not(r) : r, right));
                    return r;
                }

            case "conditional":
                {
                    var cond = Local(typeof(bool));
                    Add(LinqExpr.Assign(cond, Value(c.Args[0])));
                    var r = Local(c.Type);
                    var whenTrue = Nested(() => Add(LinqExpr.Assign(r, Value(c.Args[1]))));
                    var whenFalse = Nested(() => Add(LinqExpr.Assign(r, Value(c.Args[2]))));
                    Add(LinqExpr.IfThenElse(cond, whenTrue, whenFalse));
                    return r;
                }

            case "EQ":
                return Equal(c.Args[0], c.Args[1]);
            case "NEQ":
                return LinqExpr.Not(Equal(c.Args[0], c.Args[1]));
            case "LT":
            case "LEQ":
            case "GT":
            case "GEQ":
                return Compare(c);
            case "NOT":
                return LinqExpr.Not(Value(c.Args[0]));
            case "ADD":
                {
                    var l = Value(c.Args[0]);
                    var r = Value(c.Args[1]);
                    return c.Type == ValueType.String ? Call(nameof(Builtins.Concat), l, r) : LinqExpr.Add(l, r);
                }
        }

        return Extern(c);
    }

    private LinqExpr Or(CallExpr c, LabelTarget? absent)
    {
        var operands = new List<Expr>();
        Flatten(c, operands);
        var r = Local(c.Type);
        var end = LinqExpr.Label("or_end");
        for (var i = 0; i < operands.Count; i++)
        {
            var run = operands.Skip(i).TakeWhile(o => o is VariableExpr).Count();
            if (run >= 2)
            {
                // A run of plain attributes: one bag call finds the first present (same lookups recorded).
                var names = operands.Skip(i).Take(run).Cast<VariableExpr>().ToArray();
                var toEnd = i + run == operands.Count;
                var after = toEnd ? absent : LinqExpr.Label("or_next");
                var handles = LinqExpr.Constant(names.Select(n => n.Handle).ToArray());
                var none = after is null ? FailWith(LookupFailed(names[^1].Name)) : LinqExpr.Goto(after);
                var raw = Local(typeof(AttributeValue));
                var found = Local(typeof(int));
                var general = LinqExpr.Label("general");
                if (c.Type.IsStringLike())
                {
                    // The wire bag's string fast path, as in Resolve; another type found takes the
                    // general path for that one attribute (which words the error).
                    var s = Local(typeof(string));
                    var typed = LinqExpr.Label("typed");
                    Add(LinqExpr.IfThen(LinqExpr.Equal(_wire, LinqExpr.Constant(null, typeof(ProtoBag))), LinqExpr.Goto(general)));
                    Add(LinqExpr.Assign(found, LinqExpr.Call(_wire, s_wireTryGetFirstString, handles, s)));
                    Add(LinqExpr.IfThen(LinqExpr.GreaterThanOrEqual(found, LinqExpr.Constant(0)), LinqExpr.Block(LinqExpr.Assign(r, s), LinqExpr.Goto(end))));
                    Add(LinqExpr.IfThen(LinqExpr.Equal(found, LinqExpr.Constant(-1)), none));
                    Add(LinqExpr.Call(_bag, s_tryGet, LinqExpr.ArrayIndex(handles, LinqExpr.Subtract(LinqExpr.Constant(-2), found)), raw));
                    Add(LinqExpr.Goto(typed));
                    Add(LinqExpr.Label(general));
                    Add(LinqExpr.Assign(found, LinqExpr.Call(_bag, s_tryGetFirst, handles, raw)));
                    Add(LinqExpr.IfThen(LinqExpr.LessThan(found, LinqExpr.Constant(0)), none));
                    Add(LinqExpr.Label(typed));
                }
                else
                {
                    Add(LinqExpr.Assign(found, BagCall(s_tryGetFirst, handles, raw)));
                    Add(LinqExpr.IfThen(LinqExpr.LessThan(found, LinqExpr.Constant(0)), none));
                }

                Add(LinqExpr.Assign(r, Typed(c.Type, raw)));
                Add(LinqExpr.Goto(end));
                if (!toEnd)
                {
                    Add(LinqExpr.Label(after!));
                }

                i += run - 1;
                continue;
            }

            var last = i == operands.Count - 1;
            if (last && absent is null)
            {
                Add(LinqExpr.Assign(r, Value(operands[i])));
                break;
            }

            if (operands[i] is CallExpr { Name: "SKIP" } skipped)
            {
                // Evaluated for its errors only; its value never becomes the result (see Folder).
                var ignored = Local(skipped.Type);
                Add(LinqExpr.Assign(ignored, Value(skipped.Args[0])));
                continue;
            }

            var next = last ? absent! : LinqExpr.Label("or_next");
            var v = TryValue(operands[i], next);
            Add(LinqExpr.Assign(r, v));
            Add(LinqExpr.Goto(end));
            if (!last)
            {
                Add(LinqExpr.Label(next));
            }
        }

        Add(LinqExpr.Label(end));
        return r;
    }

    private static void Flatten(Expr e, List<Expr> into)
    {
        if (e is CallExpr { Name: "OR" } or)
        {
            Flatten(or.Args[0], into);
            Flatten(or.Args[1], into);
        }
        else
        {
            into.Add(e);
        }
    }

    private LinqExpr Index(CallExpr c, LabelTarget? absent)
    {
        var target = c.Args[0];
        var result = Local(typeof(string));
        if (target is VariableExpr map)
        {
            // The fast path: ask the bag for the one key, so only that key is recorded.
            var key = absent is null ? Value(c.Args[1]) : TryValue(c.Args[1], absent);
            var lookup = BagCall(s_tryGetMapValue, LinqExpr.Constant(map.Handle), key, result);
            if (absent is not null)
            {
                Add(LinqExpr.IfThen(LinqExpr.Not(lookup), LinqExpr.Goto(absent)));
            }
            else
            {
                // A missing key reads as ""; a missing map is an error.
                var missing = LinqExpr.IfThenElse(
                    Call(nameof(Builtins.Contains), _bag, LinqExpr.Constant(map.Handle)),
                    LinqExpr.Assign(result, LinqExpr.Constant(string.Empty)),
                    FailWith(LookupFailed(map.Name)));
                Add(LinqExpr.IfThen(LinqExpr.Not(lookup), missing));
            }

            return result;
        }

        var m = absent is null ? Value(target) : TryValue(target, absent);
        var k = absent is null ? Value(c.Args[1]) : TryValue(c.Args[1], absent);
        if (absent is null)
        {
            return Call(nameof(Builtins.Lookup), m, k);
        }

        Add(LinqExpr.IfThen(LinqExpr.Not(LinqExpr.Call(m, s_mapTryGetValue, k, result)), LinqExpr.Goto(absent)));
        return result;
    }

    private LinqExpr Equal(Expr left, Expr right)
    {
        var l = Value(left);
        var r = Value(right);
        switch (left.Type)
        {
            case ValueType.String:
                return LinqExpr.Call(s_stringEquals, l, r);
            case ValueType.Int64:
            case ValueType.Duration:
            case ValueType.Double:
            case ValueType.Bool:
                return LinqExpr.Equal(l, r);
            case ValueType.IpAddress:
                return Call(nameof(Builtins.IpEqual), l, r);
            case ValueType.Bytes:
                return Call(nameof(Builtins.BytesEqual), l, r);
            case ValueType.Timestamp:
                return Call(nameof(Builtins.TimestampEqual), l, r);
            case ValueType.DnsName:
            case ValueType.EmailAddress:
            case ValueType.Uri:
                var helper = left.Type switch
                {
                    ValueType.DnsName => nameof(Builtins.DnsNameEqual),
                    ValueType.EmailAddress => nameof(Builtins.EmailEqual),
                    _ => nameof(Builtins.UriEqual),
                };
                var eq = Local(typeof(bool));
                Check(Call(helper, l, r, eq, _error));
                return eq;
            default:
                throw new InvalidOperationException($"equality for {left.Type.ToIstioName()}");
        }
    }

    private LinqExpr Compare(CallExpr c)
    {
        var l = Value(c.Args[0]);
        var r = Value(c.Args[1]);
        if (c.Args[0].Type is ValueType.String or ValueType.Timestamp)
        {
            l = Call(c.Args[0].Type == ValueType.String ? nameof(Builtins.CompareStrings) : nameof(Builtins.CompareTimestamps), l, r);
            r = LinqExpr.Constant(0);
        }

        return c.Name switch
        {
            "LT" => LinqExpr.LessThan(l, r),
            "LEQ" => LinqExpr.LessThanOrEqual(l, r),
            "GT" => LinqExpr.GreaterThan(l, r),
            _ => LinqExpr.GreaterThanOrEqual(l, r),
        };
    }

    private LinqExpr Extern(CallExpr c)
    {
        // Externs get every argument evaluated first (Istio pushes them all, then calls).
        var target = c.Target is null ? null : Value(c.Target);
        var args = c.Args.Select(Value).ToArray();
        switch (c.Name)
        {
            case "match" when c.Args[1] is ConstantExpr { Value: string glob }:
                // The pattern is known: decide prefix, suffix or equality now.
                return glob.EndsWith('*') ? LinqExpr.Call(args[0], s_startsWith, LinqExpr.Constant(glob[..^1]), LinqExpr.Constant(StringComparison.Ordinal))
                    : glob.StartsWith('*') ? LinqExpr.Call(args[0], s_endsWith, LinqExpr.Constant(glob[1..]), LinqExpr.Constant(StringComparison.Ordinal))
                    : LinqExpr.Call(s_stringEquals, args[0], args[1]);
            case "match":
                return Call(nameof(Builtins.Match), args[0], args[1]);
            case "startsWith":
                return Call(nameof(Builtins.StartsWith), target!, args[0]);
            case "endsWith":
                return Call(nameof(Builtins.EndsWith), target!, args[0]);
            case "toLower":
                return Call(nameof(Builtins.ToLower), args[0]);
            case "size":
                return Call(nameof(Builtins.Size), args[0]);
            case "emptyStringMap":
                return LinqExpr.Constant(Builtins.EmptyStringMap(), typeof(IStringMap));
            case "conditionalString":
                return LinqExpr.Condition(args[0], args[1], args[2]);
            case "matches":
                if (c.Target is ConstantExpr { Value: string pattern })
                {
                    if (Builtins.TryCreateRegex(pattern, out var regex, out var error))
                    {
                        return Call(nameof(Builtins.RegexIsMatch), LinqExpr.Constant(regex, typeof(Regex)), args[0]);
                    }

                    Add(FailWith(error!));
                    return LinqExpr.Constant(false);
                }

                var matched = Local(typeof(bool));
                Check(Call(nameof(Builtins.Matches), target!, args[0], matched, _error));
                return matched;
            case "ip":
            case "timestamp":
            case "dnsName":
            case "email":
            case "uri":
                var result = Local(c.Type);
                var helper = c.Name switch
                {
                    "ip" => nameof(Builtins.ParseIp),
                    "timestamp" => nameof(Builtins.ParseTimestamp),
                    "dnsName" => nameof(Builtins.DnsName),
                    "email" => nameof(Builtins.Email),
                    _ => nameof(Builtins.Uri),
                };
                Check(Call(helper, args[0], result, _error));
                return result;
            default:
                throw new InvalidOperationException("no code for function " + c.Name);
        }
    }
}
