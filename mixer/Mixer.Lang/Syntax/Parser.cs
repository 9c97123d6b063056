using System.Globalization;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Syntax;

/// <summary>
/// Parses CEXL text with Go's expression grammar and precedence, then narrows the Go tree to
/// CEXL (<see cref="Expr"/>): selector chains become dotted attribute names, operators become
/// intrinsic calls, string literals that read as Go durations become DURATION constants.
/// </summary>
internal sealed class Parser
{
    private readonly List<Token> _tokens;
    private int _i;

    private Parser(string text)
    {
        _tokens = Lexer.Tokenize(text);
    }

    /// <summary>Parses; throws <see cref="ParseException"/> with the position and reason.</summary>
    public static Expr Parse(string text)
    {
        var p = new Parser(text);
        var node = p.Binary(1);

        // Go's ParseExpr accepts the semicolon it inserts at a final newline, nothing else.
        if (p.Current is { Kind: TokenKind.Semicolon, Text: "\n" } && p._tokens[p._i + 1].Kind == TokenKind.Eof)
        {
            p.Take();
        }

        if (p.Current.Kind != TokenKind.Eof)
        {
            throw new ParseException(p.Current.Pos, $"expected 'EOF', found {p.Current.Describe()}");
        }

        return Narrow(node);
    }

    private Token Current => _tokens[_i];

    private Token Take() => _tokens[_i++];

    private Token Expect(TokenKind kind, string what)
    {
        if (Current.Kind != kind)
        {
            throw new ParseException(Current.Pos, $"expected {what}, found {Current.Describe()}");
        }

        return Take();
    }

    // ---- Go syntax ----

    private static int Precedence(TokenKind kind) => kind switch
    {
        TokenKind.LogicalOr => 1,
        TokenKind.LogicalAnd => 2,
        TokenKind.Eql or TokenKind.Neq or TokenKind.Lss or TokenKind.Leq or TokenKind.Gtr or TokenKind.Geq => 3,
        TokenKind.Add or TokenKind.Sub or TokenKind.Or or TokenKind.Xor => 4,
        TokenKind.Mul or TokenKind.Quo or TokenKind.Rem or TokenKind.Shl or TokenKind.Shr or TokenKind.And or TokenKind.AndNot => 5,
        _ => 0,
    };

    private GoNode Binary(int minPrecedence)
    {
        var left = Unary();
        while (true)
        {
            var op = Current;
            var prec = Precedence(op.Kind);
            if (prec < minPrecedence || prec == 0)
            {
                return left;
            }

            Take();
            var right = Binary(prec + 1);
            left = new GoBinary(op, left, right);
        }
    }

    private GoNode Unary()
    {
        var t = Current;
        if (t.Kind is TokenKind.Add or TokenKind.Sub or TokenKind.Not or TokenKind.Xor or TokenKind.And or TokenKind.Arrow or TokenKind.Mul or TokenKind.Tilde)
        {
            Take();
            var operand = Unary();
            return new GoUnary(t, operand);
        }

        return Primary();
    }

    private GoNode Primary()
    {
        var x = Operand();
        while (true)
        {
            switch (Current.Kind)
            {
                case TokenKind.Period:
                    Take();
                    if (Current.Kind == TokenKind.LParen)
                    {
                        throw new ParseException(Current.Pos, "type assertions are not supported");
                    }

                    var sel = Expect(TokenKind.Identifier, "selector");
                    x = new GoSelector(x, sel);
                    break;
                case TokenKind.LBrack:
                    Take();
                    if (Current.Kind == TokenKind.RBrack)
                    {
                        throw new ParseException(Current.Pos, "expected operand, found ']'");
                    }

                    var index = Binary(1);
                    if (Current.Kind == TokenKind.Colon)
                    {
                        throw new ParseException(Current.Pos, "slice expressions are not supported");
                    }

                    var close = Expect(TokenKind.RBrack, "']'");
                    x = new GoIndex(x, index, close.End);
                    break;
                case TokenKind.LParen:
                    Take();
                    var args = new List<GoNode>();
                    while (Current.Kind != TokenKind.RParen)
                    {
                        args.Add(Binary(1));
                        if (Current.Kind == TokenKind.Ellipsis)
                        {
                            throw new ParseException(Current.Pos, "variadic calls are not supported");
                        }

                        if (Current.Kind != TokenKind.Comma)
                        {
                            break;
                        }

                        Take();
                    }

                    var rparen = Expect(TokenKind.RParen, "')'");
                    x = new GoCall(x, args, rparen.End);
                    break;
                default:
                    return x;
            }
        }
    }

    private GoNode Operand()
    {
        var t = Current;
        switch (t.Kind)
        {
            case TokenKind.Identifier:
            case TokenKind.Int:
            case TokenKind.Float:
            case TokenKind.Imaginary:
            case TokenKind.String:
            case TokenKind.Char:
                Take();
                return new GoLeaf(t);
            case TokenKind.LParen:
                Take();
                var inner = Binary(1);
                var close = Expect(TokenKind.RParen, "')'");
                return new GoParen(t.Pos, inner, close.End);
            default:
                throw new ParseException(t.Pos, $"expected operand, found {t.Describe()}");
        }
    }

    // ---- Narrowing to CEXL ----

    private static Expr Narrow(GoNode node)
    {
        switch (node)
        {
            case GoLeaf leaf:
                return Leaf(leaf.Token);
            case GoParen paren:
                return Narrow(paren.Inner);
            case GoSelector sel:
                return new VariableExpr(sel.Pos, sel.End, SelectorName(sel));
            case GoIndex index:
                return new CallExpr(index.Pos, index.End, "INDEX", null, [Narrow(index.X), Narrow(index.Index)], "[]");
            case GoCall call:
                return Call(call);
            case GoUnary unary:
                var operand = Narrow(unary.X);
                // Istio names a unary operator's function by its token: -x is SUB(x) and +x is
                // ADD(x), which its checker rejects (unknown function, arity); CEXL never had
                // negative literals. Only ! (NOT) is implemented, as our addition.
                var name = unary.Op.Kind switch
                {
                    TokenKind.Not => "NOT",
                    TokenKind.Sub => "SUB",
                    TokenKind.Add => "ADD",
                    TokenKind.Xor => "XOR",
                    TokenKind.And => "AND",
                    _ => throw new ParseException(unary.Pos, $"unexpected expression: unary operator '{unary.Op.Text}'"),
                };
                return new CallExpr(unary.Pos, unary.End, name, null, [operand], unary.Op.Text);
            case GoBinary bin:
                return new CallExpr(bin.Pos, bin.End, BinaryName(bin.Op.Kind), null, [Narrow(bin.X), Narrow(bin.Y)], bin.Op.Text);
            default:
                throw new ParseException(node.Pos, "unexpected expression");
        }
    }

    private static string BinaryName(TokenKind kind) => kind switch
    {
        TokenKind.Eql => "EQ",
        TokenKind.Neq => "NEQ",
        TokenKind.Or => "OR",
        TokenKind.LogicalOr => "LOR",
        TokenKind.LogicalAnd => "LAND",
        TokenKind.Add => "ADD",
        TokenKind.Sub => "SUB",
        TokenKind.Mul => "MUL",
        TokenKind.Quo => "QUO",
        TokenKind.Rem => "REM",
        TokenKind.And => "AND",
        TokenKind.Xor => "XOR",
        TokenKind.Shl => "SHL",
        TokenKind.Shr => "SHR",
        TokenKind.AndNot => "AND_NOT",
        TokenKind.Lss => "LT",
        TokenKind.Leq => "LEQ",
        TokenKind.Gtr => "GT",
        TokenKind.Geq => "GEQ",
        _ => kind.ToString().ToUpperInvariant(),
    };

    private static Expr Call(GoCall call)
    {
        var args = call.Args.Select(Narrow).ToArray();
        switch (call.Fun)
        {
            case GoLeaf { Token.Kind: TokenKind.Identifier } fn:
                return new CallExpr(call.Pos, call.End, fn.Token.Text, null, args);
            case GoSelector sel:
                // x.f(...): f is an instance function of x. A selector chain target names an
                // attribute (destination.service.startsWith("a") targets destination.service);
                // otherwise Istio takes only a literal, a call or a parenthesised expression
                // (m["k"].startsWith("a") is "unexpected expression" there).
                if (sel.X is not (GoLeaf or GoSelector or GoCall or GoParen) || sel.X is GoLeaf { Token.Kind: TokenKind.Imaginary })
                {
                    throw new ParseException(sel.X.Pos, "unexpected expression: a method's target must be an attribute, a literal, a call or a parenthesised expression");
                }

                var target = Narrow(sel.X);
                return new CallExpr(call.Pos, call.End, sel.Name.Text, target, args);
            default:
                throw new ParseException(call.Fun.Pos, "unexpected expression: only named functions can be called");
        }
    }

    private static string SelectorName(GoSelector sel)
    {
        var parts = new Stack<string>();
        GoNode x = sel;
        while (x is GoSelector s)
        {
            parts.Push(s.Name.Text);
            x = s.X;
        }

        if (x is not GoLeaf { Token.Kind: TokenKind.Identifier } root)
        {
            throw new ParseException(sel.Name.Pos, "unexpected expression: a '.' must follow an attribute name segment");
        }

        parts.Push(root.Token.Text);
        return string.Join('.', parts);
    }

    private static Expr Leaf(Token t)
    {
        switch (t.Kind)
        {
            case TokenKind.Identifier:
                if (t.Text.Equals("true", StringComparison.OrdinalIgnoreCase))
                {
                    return new ConstantExpr(t.Pos, t.End, ValueType.Bool, true);
                }

                if (t.Text.Equals("false", StringComparison.OrdinalIgnoreCase))
                {
                    return new ConstantExpr(t.Pos, t.End, ValueType.Bool, false);
                }

                return new VariableExpr(t.Pos, t.End, t.Text);
            case TokenKind.Int:
                // Go's scanner rejects 089 (a bad octal literal); Istio then reads what is left with
                // strconv.ParseInt(text, 10, 64), so 0755 is 755 and hex, '_' or an overflow fail.
                if (t.Text.Length > 1 && t.Text[0] == '0' && t.Text.All(char.IsAsciiDigit) && t.Text.AsSpan().IndexOfAny('8', '9') >= 0)
                {
                    throw new ParseException(t.Pos, $"illegal octal number {t.Text}");
                }

                if (!t.Text.All(char.IsAsciiDigit) || !long.TryParse(t.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var l))
                {
                    throw new ParseException(t.Pos, $"invalid integer literal {t.Text} (decimal digits only, within int64)");
                }

                return new ConstantExpr(t.Pos, t.End, ValueType.Int64, l);
            case TokenKind.Float:
                if (t.Text.Contains('_', StringComparison.Ordinal)
                    || !double.TryParse(t.Text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var d)
                    || double.IsInfinity(d))
                {
                    throw new ParseException(t.Pos, $"invalid floating-point literal {t.Text}");
                }

                return new ConstantExpr(t.Pos, t.End, ValueType.Double, d);
            case TokenKind.String:
            case TokenKind.Char:
                var s = t.Value!;

                // Istio's quirk: a string that parses as a Go duration is a DURATION constant,
                // so response.duration | "0ms" type-checks (and so does the bare "0").
                if (GoDuration.TryParse(s, out var ns))
                {
                    return new ConstantExpr(t.Pos, t.End, ValueType.Duration, ns);
                }

                return new ConstantExpr(t.Pos, t.End, ValueType.String, s);
            default:
                throw new ParseException(t.Pos, $"unexpected expression: {t.Text}");
        }
    }

    // ---- Go syntax tree (internal to the parser) ----

    private abstract class GoNode(int pos, int end)
    {
        public int Pos { get; } = pos;

        public int End { get; } = end;
    }

    private sealed class GoLeaf(Token token) : GoNode(token.Pos, token.End)
    {
        public Token Token { get; } = token;
    }

    private sealed class GoParen(int pos, GoNode inner, int end) : GoNode(pos, end)
    {
        public GoNode Inner { get; } = inner;
    }

    private sealed class GoSelector(GoNode x, Token name) : GoNode(x.Pos, name.End)
    {
        public GoNode X { get; } = x;

        public Token Name { get; } = name;
    }

    private sealed class GoIndex(GoNode x, GoNode index, int end) : GoNode(x.Pos, end)
    {
        public GoNode X { get; } = x;

        public GoNode Index { get; } = index;
    }

    private sealed class GoCall(GoNode fun, List<GoNode> args, int end) : GoNode(fun.Pos, end)
    {
        public GoNode Fun { get; } = fun;

        public List<GoNode> Args { get; } = args;
    }

    private sealed class GoUnary(Token op, GoNode x) : GoNode(op.Pos, x.End)
    {
        public Token Op { get; } = op;

        public GoNode X { get; } = x;
    }

    private sealed class GoBinary(Token op, GoNode x, GoNode y) : GoNode(x.Pos, y.End)
    {
        public Token Op { get; } = op;

        public GoNode X { get; } = x;

        public GoNode Y { get; } = y;
    }
}
