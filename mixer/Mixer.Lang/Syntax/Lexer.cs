using System.Globalization;
using System.Text;

namespace Mixer.Lang.Syntax;

/// <summary>
/// Splits expression text into Go tokens. CEXL text was parsed by Go's own parser in Istio, so
/// the lexical rules (identifiers, number and string literal forms, operators) are Go's.
/// Newlines are plain white space here: Go would insert a semicolon after a line ending in an
/// operand, which only ever turned a multi-line expression into a parse error.
/// </summary>
internal sealed class Lexer
{
    private readonly string _text;
    private int _pos;

    public Lexer(string text) => _text = text;

    /// <summary>Reads every token up to and including <see cref="TokenKind.Eof"/>.</summary>
    public static List<Token> Tokenize(string text)
    {
        var lexer = new Lexer(text);
        var tokens = new List<Token>();
        while (true)
        {
            var t = lexer.Next();
            tokens.Add(t);
            if (t.Kind == TokenKind.Eof)
            {
                return tokens;
            }
        }
    }

    private Token Next()
    {
        while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\r' or '\n')
        {
            _pos++;
        }

        if (_pos >= _text.Length)
        {
            return new Token(TokenKind.Eof, _text.Length, string.Empty);
        }

        var start = _pos;
        var c = _text[_pos];
        if (IsLetter(c))
        {
            while (_pos < _text.Length && (IsLetter(_text[_pos]) || IsDigit(_text[_pos])))
            {
                _pos++;
            }

            return Make(TokenKind.Identifier, start);
        }

        if (IsDigit(c) || (c == '.' && _pos + 1 < _text.Length && char.IsAsciiDigit(_text[_pos + 1])))
        {
            return Number(start);
        }

        switch (c)
        {
            case '"':
                return InterpretedString(start);
            case '`':
                return RawString(start);
            case '\'':
                return CharLiteral(start);
        }

        _pos++;
        var kind = c switch
        {
            '+' => Pick(('+', TokenKind.Increment), ('=', TokenKind.OpAssign), TokenKind.Add),
            '-' => Pick(('-', TokenKind.Increment), ('=', TokenKind.OpAssign), TokenKind.Sub),
            '*' => Pick(('=', TokenKind.OpAssign), TokenKind.Mul),
            '/' => Pick(('=', TokenKind.OpAssign), TokenKind.Quo),
            '%' => Pick(('=', TokenKind.OpAssign), TokenKind.Rem),
            '^' => Pick(('=', TokenKind.OpAssign), TokenKind.Xor),
            '~' => TokenKind.Tilde,
            '|' => Pick(('|', TokenKind.LogicalOr), ('=', TokenKind.OpAssign), TokenKind.Or),
            '&' => Ampersand(),
            '<' => Less(),
            '>' => Greater(),
            '=' => Pick(('=', TokenKind.Eql), TokenKind.Assign),
            '!' => Pick(('=', TokenKind.Neq), TokenKind.Not),
            ':' => Pick(('=', TokenKind.Define), TokenKind.Colon),
            '.' => Dots(),
            '(' => TokenKind.LParen,
            ')' => TokenKind.RParen,
            '[' => TokenKind.LBrack,
            ']' => TokenKind.RBrack,
            '{' => TokenKind.LBrace,
            '}' => TokenKind.RBrace,
            ',' => TokenKind.Comma,
            ';' => TokenKind.Semicolon,
            _ => throw Illegal(start, c),
        };
        return Make(kind, start);
    }

    private TokenKind Ampersand()
    {
        if (Accept('&'))
        {
            return TokenKind.LogicalAnd;
        }

        if (Accept('^'))
        {
            return Accept('=') ? TokenKind.OpAssign : TokenKind.AndNot;
        }

        return Accept('=') ? TokenKind.OpAssign : TokenKind.And;
    }

    private TokenKind Less()
    {
        if (Accept('<'))
        {
            return Accept('=') ? TokenKind.OpAssign : TokenKind.Shl;
        }

        if (Accept('-'))
        {
            return TokenKind.Arrow;
        }

        return Accept('=') ? TokenKind.Leq : TokenKind.Lss;
    }

    private TokenKind Greater()
    {
        if (Accept('>'))
        {
            return Accept('=') ? TokenKind.OpAssign : TokenKind.Shr;
        }

        return Accept('=') ? TokenKind.Geq : TokenKind.Gtr;
    }

    private TokenKind Dots()
    {
        if (_pos + 1 < _text.Length && _text[_pos] == '.' && _text[_pos + 1] == '.')
        {
            _pos += 2;
            return TokenKind.Ellipsis;
        }

        return TokenKind.Period;
    }

    private TokenKind Pick((char Next, TokenKind Kind) a, TokenKind otherwise) => Accept(a.Next) ? a.Kind : otherwise;

    private TokenKind Pick((char Next, TokenKind Kind) a, (char Next, TokenKind Kind) b, TokenKind otherwise) =>
        Accept(a.Next) ? a.Kind : Accept(b.Next) ? b.Kind : otherwise;

    private bool Accept(char c)
    {
        if (_pos < _text.Length && _text[_pos] == c)
        {
            _pos++;
            return true;
        }

        return false;
    }

    private Token Number(int start)
    {
        // Go number literals: decimal, 0x hex, 0o/0 octal, 0b binary, with '_' separators, a
        // fraction and exponent for floats and an 'i' suffix for imaginaries. The parser decides
        // later which of these CEXL accepts (Istio: base-10 integers and floats only).
        var kind = TokenKind.Int;
        if (_text[_pos] == '0' && _pos + 1 < _text.Length && _text[_pos + 1] is 'x' or 'X' or 'b' or 'B' or 'o' or 'O')
        {
            _pos += 2;
            while (_pos < _text.Length && (char.IsAsciiHexDigit(_text[_pos]) || _text[_pos] == '_'))
            {
                _pos++;
            }
        }
        else
        {
            Digits();
            if (_pos < _text.Length && _text[_pos] == '.')
            {
                kind = TokenKind.Float;
                _pos++;
                Digits();
            }

            if (_pos < _text.Length && _text[_pos] is 'e' or 'E')
            {
                kind = TokenKind.Float;
                _pos++;
                if (_pos < _text.Length && _text[_pos] is '+' or '-')
                {
                    _pos++;
                }

                if (_pos >= _text.Length || !char.IsAsciiDigit(_text[_pos]))
                {
                    throw new ParseException(start, "exponent has no digits");
                }

                Digits();
            }
        }

        if (_pos < _text.Length && _text[_pos] == 'i')
        {
            _pos++;
            kind = TokenKind.Imaginary;
        }

        return Make(kind, start);
    }

    private void Digits()
    {
        while (_pos < _text.Length && (char.IsAsciiDigit(_text[_pos]) || _text[_pos] == '_'))
        {
            _pos++;
        }
    }

    private Token InterpretedString(int start)
    {
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] == '\n')
            {
                throw new ParseException(start, "string literal not terminated");
            }

            var c = _text[_pos];
            if (c == '"')
            {
                _pos++;
                return new Token(TokenKind.String, start, _text[start.._pos]) { Value = sb.ToString() };
            }

            if (c == '\\')
            {
                Escape(sb, '"');
            }
            else
            {
                sb.Append(c);
                _pos++;
            }
        }
    }

    private Token RawString(int start)
    {
        _pos++;
        var end = _text.IndexOf('`', _pos);
        if (end < 0)
        {
            throw new ParseException(start, "raw string literal not terminated");
        }

        // Go drops carriage returns from raw strings.
        var value = _text[_pos..end].Replace("\r", string.Empty, StringComparison.Ordinal);
        _pos = end + 1;
        return new Token(TokenKind.String, start, _text[start.._pos]) { Value = value };
    }

    private Token CharLiteral(int start)
    {
        _pos++;
        var sb = new StringBuilder();
        if (_pos < _text.Length && _text[_pos] == '\\')
        {
            Escape(sb, '\'');
        }
        else if (_pos < _text.Length && _text[_pos] is not '\'' and not '\n')
        {
            if (char.IsHighSurrogate(_text[_pos]) && _pos + 1 < _text.Length)
            {
                sb.Append(_text[_pos]);
                _pos++;
            }

            sb.Append(_text[_pos]);
            _pos++;
        }

        if (_pos >= _text.Length || _text[_pos] != '\'')
        {
            throw new ParseException(start, "rune literal not terminated");
        }

        _pos++;
        if (sb.Length == 0)
        {
            throw new ParseException(start, "empty rune literal or unescaped ' in rune literal");
        }

        return new Token(TokenKind.Char, start, _text[start.._pos]) { Value = sb.ToString() };
    }

    private void Escape(StringBuilder sb, char quote)
    {
        var at = _pos;
        _pos++;
        if (_pos >= _text.Length)
        {
            throw new ParseException(at, "escape sequence not terminated");
        }

        var c = _text[_pos++];
        switch (c)
        {
            case 'a': sb.Append('\a'); return;
            case 'b': sb.Append('\b'); return;
            case 'f': sb.Append('\f'); return;
            case 'n': sb.Append('\n'); return;
            case 'r': sb.Append('\r'); return;
            case 't': sb.Append('\t'); return;
            case 'v': sb.Append('\v'); return;
            case '\\': sb.Append('\\'); return;
            case 'x':
                // \xNN is a byte in Go; bytes >= 0x80 would make invalid UTF-8, which a .NET
                // string cannot hold faithfully: accept the ASCII range only.
                var b = HexValue(at, 2);
                if (b > 0x7F)
                {
                    throw new ParseException(at, "non-ASCII \\x escapes are not supported; write the character itself or \\u");
                }

                sb.Append((char)b);
                return;
            case 'u':
                AppendRune(sb, at, HexValue(at, 4));
                return;
            case 'U':
                AppendRune(sb, at, HexValue(at, 8));
                return;
            case >= '0' and <= '7':
                _pos--;
                var v = 0;
                for (var i = 0; i < 3; i++)
                {
                    if (_pos >= _text.Length || _text[_pos] is < '0' or > '7')
                    {
                        throw new ParseException(at, "illegal character in escape sequence");
                    }

                    v = (v * 8) + (_text[_pos++] - '0');
                }

                if (v > 0x7F)
                {
                    throw new ParseException(at, "non-ASCII octal escapes are not supported; write the character itself or \\u");
                }

                sb.Append((char)v);
                return;
            default:
                if (c == quote)
                {
                    sb.Append(c);
                    return;
                }

                throw new ParseException(at, "unknown escape sequence");
        }
    }

    private int HexValue(int at, int digits)
    {
        if (_pos + digits > _text.Length)
        {
            throw new ParseException(at, "escape sequence not terminated");
        }

        if (!int.TryParse(_text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v) || v < 0)
        {
            throw new ParseException(at, "illegal character in escape sequence");
        }

        _pos += digits;
        return v;
    }

    private static void AppendRune(StringBuilder sb, int at, int value)
    {
        if (!Rune.IsValid(value))
        {
            throw new ParseException(at, "escape sequence is invalid Unicode code point");
        }

        sb.Append(new Rune(value).ToString());
    }

    private Token Make(TokenKind kind, int start) => new(kind, start, _text[start.._pos]);

    private static ParseException Illegal(int at, char c) =>
        new(at, string.Create(CultureInfo.InvariantCulture, $"illegal character U+{(int)c:X4} '{c}'"));

    private static bool IsLetter(char c) => c == '_' || char.IsLetter(c);

    private static bool IsDigit(char c) => char.IsAsciiDigit(c);
}

/// <summary>A syntax error at a position (0-based offset into the text).</summary>
internal sealed class ParseException(int position, string reason) : Exception(reason)
{
    public int Position { get; } = position;

    public string Reason { get; } = reason;
}
