using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Syntax;

/// <summary>
/// A node of the CEXL tree, after Go syntax has been narrowed to what CEXL means: constants,
/// attributes and calls (operators are calls to intrinsic functions such as EQ, OR, INDEX).
/// </summary>
internal abstract class Expr(int pos, int end)
{
    /// <summary>Offset of the node's first character in the source text.</summary>
    public int Pos { get; } = pos;

    /// <summary>Offset just past the node's last character.</summary>
    public int End { get; } = end;

    /// <summary>The static type, set by the checker.</summary>
    public ValueType Type { get; set; }

    public string SourceText(string text) => Pos >= 0 && End <= text.Length && End >= Pos ? text[Pos..End] : ToString() ?? string.Empty;
}

/// <summary>
/// A constant. The CLR value depends on <see cref="Expr.Type"/>: string for the string-like
/// types, long for INT64 and DURATION (nanoseconds), double, bool, byte[] for IP_ADDRESS,
/// <see cref="AttributeValue"/> for TIMESTAMP and <see cref="IStringMap"/> for STRING_MAP
/// (the last three only from constant folding).
/// </summary>
internal sealed class ConstantExpr : Expr
{
    public ConstantExpr(int pos, int end, ValueType type, object value)
        : base(pos, end)
    {
        Type = type;
        Value = value;
    }

    public object Value { get; }

    public override string ToString() => Type switch
    {
        ValueType.String => "\"" + Value + "\"",
        ValueType.Duration => GoDuration.Format((long)Value),
        ValueType.Bool => (bool)Value ? "true" : "false",
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
    };
}

/// <summary>An attribute, by its (dotted) name.</summary>
internal sealed class VariableExpr(int pos, int end, string name) : Expr(pos, end)
{
    public string Name { get; } = name;

    public AttributeName Handle { get; } = AttributeName.Of(name);

    public override string ToString() => "$" + Name;
}

/// <summary>A function call: an intrinsic for an operator, a plain call or a method-style call.</summary>
internal sealed class CallExpr(int pos, int end, string name, Expr? target, Expr[] args, string? op = null) : Expr(pos, end)
{
    /// <summary>The function: EQ, NEQ, OR, LOR, LAND, ADD, INDEX, LT, LEQ, GT, GEQ, NOT, NEG, or an extern name.</summary>
    public string Name { get; } = name;

    /// <summary>The instance of a method-style call (<c>x.startsWith("a")</c>), else null.</summary>
    public Expr? Target { get; } = target;

    public Expr[] Args { get; } = args;

    /// <summary>The operator as written (<c>==</c>, <c>|</c>…), for messages; null for calls.</summary>
    public string? Operator { get; } = op;

    public override string ToString() =>
        (Target is null ? string.Empty : Target + ":") + Name + "(" + string.Join(", ", Args.Select(a => a.ToString())) + ")";
}
