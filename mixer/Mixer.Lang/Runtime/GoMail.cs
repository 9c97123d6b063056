using System.Text;

namespace Mixer.Lang.Runtime;

/// <summary>Go 1.10's <c>net/mail.ParseAddress</c>, as far as Istio 1.0's email() and email_equal use it.</summary>
internal static class GoMail
{
    /// <summary>
    /// Parses one address: an addr-spec (dot-atom or quoted local part, '@', dot-atom domain; spaces
    /// allowed after the '@'), or one in angle brackets, optionally after a display name. Yields the
    /// display name and the address with the local part unquoted, as Go's Address does.
    /// </summary>
    public static bool TryParseAddress(string text, out string name, out string address, out string? error)
    {
        name = address = string.Empty;
        var p = new Cursor(text);
        p.SkipSpace();
        if (p.Empty)
        {
            error = "mail: no address";
            return false;
        }

        var save = p.Position;
        if (AddrSpec(ref p, out address, out error))
        {
            return End(ref p, out error);
        }

        p.Position = save;
        if (p.Peek != '<')
        {
            if (!Phrase(ref p, out name, out error))
            {
                return false;
            }

            p.SkipSpace();
        }

        if (!p.Consume('<'))
        {
            error = "mail: no angle-addr";
            return false;
        }

        if (!AddrSpec(ref p, out address, out error))
        {
            return false;
        }

        if (!p.Consume('>'))
        {
            error = "mail: unclosed angle-addr";
            return false;
        }

        return End(ref p, out error);
    }

    private static bool End(ref Cursor p, out string? error)
    {
        p.SkipSpace();
        error = p.Empty ? null : $"mail: expected single address, got \"{p.Rest}\"";
        return error is null;
    }

    private static bool AddrSpec(ref Cursor p, out string spec, out string? error)
    {
        spec = string.Empty;
        p.SkipSpace();
        if (p.Empty)
        {
            error = "mail: no addr-spec";
            return false;
        }

        string local;
        if (p.Peek == '"')
        {
            if (!QuotedString(ref p, out local, out error))
            {
                return false;
            }

            if (local.Length == 0)
            {
                error = "mail: empty quoted-string";
                return false;
            }
        }
        else if (!Atom(ref p, dot: true, permissive: false, out local, out error))
        {
            return false;
        }

        if (!p.Consume('@'))
        {
            error = "mail: missing @ in addr-spec";
            return false;
        }

        p.SkipSpace();
        if (p.Empty)
        {
            error = "mail: no domain in addr-spec";
            return false;
        }

        if (!Atom(ref p, dot: true, permissive: false, out var domain, out error))
        {
            return false;
        }

        spec = local + "@" + domain;
        return true;
    }

    private static bool Phrase(ref Cursor p, out string phrase, out string? error)
    {
        var words = new List<string>();
        while (true)
        {
            p.SkipSpace();
            if (p.Empty)
            {
                break;
            }

            string word;
            if (p.Peek == '"')
            {
                if (!QuotedString(ref p, out word, out error))
                {
                    phrase = string.Empty;
                    return false;
                }
            }
            else if (!Atom(ref p, dot: true, permissive: true, out word, out _))
            {
                break;
            }

            words.Add(word);
        }

        phrase = string.Join(' ', words);
        error = words.Count == 0 ? "mail: missing word in phrase" : null;
        return error is null;
    }

    private static bool Atom(ref Cursor p, bool dot, bool permissive, out string atom, out string? error)
    {
        var start = p.Position;
        while (!p.Empty && IsAtext(p.Peek, dot, permissive))
        {
            p.Position++;
        }

        atom = p.Text[start..p.Position];
        if (atom.Length == 0)
        {
            error = "mail: invalid string";
            return false;
        }

        if (!permissive)
        {
            error = atom.StartsWith('.') ? "mail: leading dot in atom"
                : atom.Contains("..", StringComparison.Ordinal) ? "mail: double dot in atom"
                : atom.EndsWith('.') ? "mail: trailing dot in atom"
                : null;
            if (error is not null)
            {
                return false;
            }
        }

        error = null;
        return true;
    }

    private static bool QuotedString(ref Cursor p, out string value, out string? error)
    {
        var sb = new StringBuilder();
        p.Position++;
        var escaped = false;
        while (true)
        {
            if (p.Empty)
            {
                value = string.Empty;
                error = "mail: unclosed quoted-string";
                return false;
            }

            var c = p.Peek;
            p.Position++;
            if (escaped)
            {
                if (!IsVchar(c) && c is not (' ' or '\t'))
                {
                    value = string.Empty;
                    error = $"mail: bad character in quoted-string: '{c}'";
                    return false;
                }

                sb.Append(c);
                escaped = false;
            }
            else if (c == '"')
            {
                value = sb.ToString();
                error = null;
                return true;
            }
            else if (c == '\\')
            {
                escaped = true;
            }
            else if (IsVchar(c) || c is ' ' or '\t')
            {
                sb.Append(c);
            }
            else
            {
                value = string.Empty;
                error = $"mail: bad character in quoted-string: '{c}'";
                return false;
            }
        }
    }

    private static bool IsAtext(char c, bool dot, bool permissive) => c switch
    {
        '.' => dot,
        '(' or ')' or '[' or ']' or ';' or '@' or '\\' or ',' => permissive,
        '<' or '>' or '"' or ':' => false,
        _ => IsVchar(c),
    };

    private static bool IsVchar(char c) => c is >= '!' and <= '~' || c >= 0x80;

    private struct Cursor(string text)
    {
        public readonly string Text = text;
        public int Position;

        public readonly bool Empty => Position >= Text.Length;

        public readonly char Peek => Text[Position];

        public readonly string Rest => Text[Position..];

        public void SkipSpace()
        {
            while (!Empty && Text[Position] is ' ' or '\t')
            {
                Position++;
            }
        }

        public bool Consume(char c)
        {
            if (!Empty && Text[Position] == c)
            {
                Position++;
                return true;
            }

            return false;
        }
    }
}
