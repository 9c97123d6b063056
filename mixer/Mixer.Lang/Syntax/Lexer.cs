using System.Globalization;
using System.Text;

namespace Mixer.Lang.Syntax;

/// <summary>
/// Splits expression text into Go tokens. CEXL text was parsed by Go's own parser in Istio, so
/// the lexical rules (identifiers, keywords, comments, number and string literal forms,
/// operators, and the semicolon Go inserts at a newline after an operand) are Go's.
/// </summary>
internal sealed class Lexer
{
    /// <summary>Go's keywords: never identifiers, so never attribute name segments.</summary>
    private static readonly HashSet<string> s_keywords = new(StringComparer.Ordinal)
    {
        "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func",
        "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct",
        "switch", "type", "var",
    };

    private readonly string _text;
    private int _pos;

    // Whether a newline here ends a statement (Go's automatic semicolon): after an operand.
    private bool _insertSemicolon;

    public Lexer(string text) => _text = text;

    /// <summary>Reads every token up to and including <see cref="TokenKind.Eof"/>.</summary>
    public static List<Token> Tokenize(string text)
    {
        var lexer = new Lexer(text);
        var tokens = new List<Token>();
        while (true)
        {
            var t = lexer.Next();
            lexer._insertSemicolon = t.Kind is TokenKind.Identifier or TokenKind.Int or TokenKind.Float or TokenKind.Imaginary
                or TokenKind.String or TokenKind.Char or TokenKind.RParen or TokenKind.RBrack or TokenKind.RBrace
                or TokenKind.Increment || (t.Kind == TokenKind.Keyword && t.Text is "break" or "continue" or "fallthrough" or "return");
            tokens.Add(t);
            if (t.Kind == TokenKind.Eof)
            {
                return tokens;
            }
        }
    }

    private Token Next()
    {
        while (true)
        {
            while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\r' or '\n')
            {
                if (_text[_pos] == '\n' && _insertSemicolon)
                {
                    return new Token(TokenKind.Semicolon, _pos++, "\n");
                }

                _pos++;
            }

            if (!SkipComment(out var newline))
            {
                break;
            }

            if (newline && _insertSemicolon)
            {
                return new Token(TokenKind.Semicolon, _pos, "\n");
            }
        }

        if (_pos >= _text.Length)
        {
            return new Token(TokenKind.Eof, _text.Length, string.Empty);
        }

        var start = _pos;
        var c = _text[_pos];
        if (IsLetter(c))
        {
            while (_pos < _text.Length && (IsLetter(_text[_pos]) || char.IsDigit(_text[_pos])))
            {
                _pos++;
            }

            return Make(s_keywords.Contains(_text[start.._pos]) ? TokenKind.Keyword : TokenKind.Identifier, start);
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

    /// <summary>Skips one <c>// line</c> or <c>/* block */</c> comment; says whether it held a newline.</summary>
    private bool SkipComment(out bool newline)
    {
        newline = false;
        if (_pos + 1 >= _text.Length || _text[_pos] != '/' || _text[_pos + 1] is not ('/' or '*'))
        {
            return false;
        }

        if (_text[_pos + 1] == '/')
        {
            var end = _text.IndexOf('\n', _pos);
            newline = end >= 0;
            _pos = end < 0 ? _text.Length : end;
            return true;
        }

        var close = _text.IndexOf("*/", _pos + 2, StringComparison.Ordinal);
        if (close < 0)
        {
            throw new ParseException(_pos, "comment not terminated");
        }

        newline = _text.AsSpan(_pos, close - _pos).Contains('\n');
        _pos = close + 2;
        return true;
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
        var bytes = new List<byte>();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] == '\n')
            {
                throw new ParseException(start, "string literal not terminated");
            }

            var c = _text[_pos];
            if (c == '"')
            {
                FlushBytes(sb, bytes, start);
                _pos++;
                return new Token(TokenKind.String, start, _text[start.._pos]) { Value = sb.ToString() };
            }

            var byteEscape = c == '\\' && _pos + 1 < _text.Length && _text[_pos + 1] is 'x' or (>= '0' and <= '7');
            if (!byteEscape)
            {
                FlushBytes(sb, bytes, start);
            }

            if (c == '\\')
            {
                if (Escape(sb, '"') is { } b)
                {
                    bytes.Add(b);
                }
            }
            else
            {
                sb.Append(c);
                _pos++;
            }
        }
    }

    /// <summary>
    /// Go's \xNN and octal escapes are bytes; a run of them must spell UTF-8 (a .NET string cannot
    /// hold other bytes faithfully).
    /// </summary>
    private static void FlushBytes(StringBuilder sb, List<byte> bytes, int at)
    {
        if (bytes.Count == 0)
        {
            return;
        }

        try
        {
            sb.Append(new UTF8Encoding(false, true).GetString(bytes.ToArray()));
        }
        catch (DecoderFallbackException)
        {
            throw new ParseException(at, "byte escapes (\\x, octal) that do not spell UTF-8 text are not supported");
        }

        bytes.Clear();
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
            if (Escape(sb, '\'') is { } b)
            {
                // In a rune literal a byte escape is the code point itself ('\xff' is U+00FF).
                sb.Append((char)b);
            }
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

    /// <summary>Reads one escape: appends a character, or returns the byte of a \x or octal escape.</summary>
    private byte? Escape(StringBuilder sb, char quote)
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
            case 'a': sb.Append('\a'); return null;
            case 'b': sb.Append('\b'); return null;
            case 'f': sb.Append('\f'); return null;
            case 'n': sb.Append('\n'); return null;
            case 'r': sb.Append('\r'); return null;
            case 't': sb.Append('\t'); return null;
            case 'v': sb.Append('\v'); return null;
            case '\\': sb.Append('\\'); return null;
            case 'x':
                return (byte)HexValue(at, 2);
            case 'u':
                AppendRune(sb, at, HexValue(at, 4));
                return null;
            case 'U':
                AppendRune(sb, at, HexValue(at, 8));
                return null;
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

                if (v > 0xFF)
                {
                    throw new ParseException(at, "octal escape value > 255");
                }

                return (byte)v;
            default:
                if (c == quote)
                {
                    sb.Append(c);
                    return null;
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
