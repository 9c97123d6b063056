using Mixer.Lang.Syntax;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Checking;

/// <summary>A type error at a position (0-based offset).</summary>
internal sealed class CheckException(int position, string reason) : Exception(reason)
{
    public int Position { get; } = position;

    public string Reason { get; } = reason;
}

/// <summary>
/// Gives every node of a tree its static type, against an attribute manifest, with Istio 1.0's
/// rules (plus 1.1's comparisons, toLower and size, and <c>!</c>).
/// </summary>
internal sealed class Checker(IAttributeManifest manifest, string text)
{
    public static void Check(Expr root, IAttributeManifest manifest, string text) => new Checker(manifest, text).Visit(root);

    private ValueType Visit(Expr e)
    {
        e.Type = e switch
        {
            ConstantExpr c => c.Type,
            VariableExpr v => Variable(v),
            CallExpr call => Call(call),
            _ => throw new CheckException(e.Pos, "unexpected expression"),
        };
        return e.Type;
    }

    private ValueType Variable(VariableExpr v)
    {
        if (manifest.TryGetType(v.Name, out var type))
        {
            return type;
        }

        var near = Suggest.Nearest(v.Name, manifest.Names);
        throw new CheckException(v.Pos, $"unknown attribute '{v.Name}'" + (near is null ? string.Empty : $"; did you mean '{near}'?"));
    }

    private ValueType Call(CallExpr call)
    {
        if (call.Target is null && Functions.IntrinsicArity.TryGetValue(call.Name, out var arity) && call.Args.Length != arity)
        {
            // Istio's message for +x (ADD with one argument).
            throw new CheckException(call.Pos, $"{call.Name} arity mismatch. Got {call.Args.Length} arg(s), expected {arity} arg(s)");
        }

        switch (call.Name)
        {
            case "EQ":
            case "NEQ":
                {
                    var t = SameTypes(call);
                    if (t is ValueType.StringMap or ValueType.Duration)
                    {
                        // Istio 1.0's code generator has no equality for these ("equality for type
                        // not yet implemented"), so such an expression never compiled there.
                        throw new CheckException(call.Pos, $"'{call.Operator}' is not defined for {Name(t)} values (Istio never implemented it)");
                    }

                    return ValueType.Bool;
                }

            case "LT":
            case "LEQ":
            case "GT":
            case "GEQ":
                {
                    var t = SameTypes(call);
                    if (t is not (ValueType.String or ValueType.Int64 or ValueType.Double or ValueType.Timestamp))
                    {
                        throw new CheckException(call.Pos, $"'{call.Operator}' compares STRING, INT64, DOUBLE or TIMESTAMP values, not {Name(t)}");
                    }

                    return ValueType.Bool;
                }

            case "OR":
                return SameTypes(call);

            case "LOR":
            case "LAND":
                Expect(call, 0, ValueType.Bool, $"left operand of '{call.Operator}'");
                Expect(call, 1, ValueType.Bool, $"right operand of '{call.Operator}'");
                return ValueType.Bool;

            case "NOT":
                Expect(call, 0, ValueType.Bool, "operand of '!'");
                return ValueType.Bool;

            case "ADD":
                {
                    var t = SameTypes(call);
                    if (t is not (ValueType.String or ValueType.Int64 or ValueType.Double))
                    {
                        throw new CheckException(call.Pos, $"'+' adds STRING, INT64 or DOUBLE values, not {Name(t)}");
                    }

                    return t;
                }

            case "INDEX":
                {
                    var m = Visit(call.Args[0]);
                    if (m != ValueType.StringMap)
                    {
                        throw new CheckException(call.Args[0].Pos, $"only STRING_MAP values can be indexed with [ ], not {Name(m)}");
                    }

                    Expect(call, 1, ValueType.String, "map key");
                    return ValueType.String;
                }
        }

        if (Functions.Unsupported.TryGetValue(call.Name, out var op))
        {
            throw new CheckException(call.Pos, $"operator '{op}' is not supported (unknown function: {call.Name})" + (op == "-" && call.Args.Length == 1 ? "; CEXL has no negative numbers" : string.Empty));
        }

        if (!Functions.Externs.TryGetValue(call.Name, out var fn))
        {
            var near = Suggest.Nearest(call.Name, Functions.Externs.Keys);
            throw new CheckException(call.Pos, $"unknown function: {call.Name}" + (near is null ? string.Empty : $"; did you mean '{near}'?"));
        }

        if (fn.Instance && call.Target is null)
        {
            throw new CheckException(call.Pos, $"invoking instance method without an instance: {fn.Name} (write x.{fn.Name}(...))");
        }

        if (!fn.Instance && call.Target is not null)
        {
            throw new CheckException(call.Pos, $"invoking regular function on instance method: {fn.Name} (write {fn.Name}(...))");
        }

        if (call.Args.Length != fn.Args.Length)
        {
            throw new CheckException(call.Pos, $"{fn.Name} arity mismatch. Got {call.Args.Length} arg(s), expected {fn.Args.Length} arg(s)");
        }

        if (call.Target is not null)
        {
            var tt = Visit(call.Target);
            if (tt != fn.Target)
            {
                throw new CheckException(call.Target.Pos, $"{fn.Name} target typeError got {Name(tt)}, expected {Name(fn.Target)}");
            }
        }

        var generic = ValueType.Unspecified;
        for (var i = 0; i < call.Args.Length; i++)
        {
            var at = Visit(call.Args[i]);
            var want = fn.Args[i];
            if (want == ValueType.Unspecified)
            {
                if (generic == ValueType.Unspecified)
                {
                    generic = at;
                    continue;
                }

                want = generic;
            }

            if (at != want)
            {
                throw new CheckException(call.Args[i].Pos, $"{fn.Name} arg {i + 1} ({call.Args[i].SourceText(text)}) typeError got {Name(at)}, expected {Name(want)}" + DurationHint(call.Args[i]));
            }
        }

        return fn.Returns == ValueType.Unspecified ? generic : fn.Returns;
    }

    private ValueType SameTypes(CallExpr call)
    {
        var left = Visit(call.Args[0]);
        var right = Visit(call.Args[1]);
        if (left != right)
        {
            throw new CheckException(
                call.Args[1].Pos,
                $"'{call.Operator}' needs operands of the same type: {call.Args[0].SourceText(text)} is {Name(left)}, {call.Args[1].SourceText(text)} is {Name(right)}"
                + DurationHint(call.Args[0]) + DurationHint(call.Args[1]));
        }

        return left;
    }

    private void Expect(CallExpr call, int index, ValueType want, string what)
    {
        var got = Visit(call.Args[index]);
        if (got != want)
        {
            throw new CheckException(call.Args[index].Pos, $"{what} must be {Name(want)}, got {Name(got)} ({call.Args[index].SourceText(text)})" + DurationHint(call.Args[index]));
        }
    }

    private static string DurationHint(Expr e) =>
        e is ConstantExpr { Type: ValueType.Duration }
            ? $" (a string literal that reads as a Go duration, such as \"0\" or \"10ms\", is a DURATION)"
            : string.Empty;

    private static string Name(ValueType t) => t.ToIstioName();
}
