namespace Mixer.Lang.Syntax;

internal enum TokenKind
{
    Eof,
    Identifier,
    Int,
    Float,
    Imaginary,
    String,
    Char,
    Keyword,

    // Operators and punctuation, Go's set.
    Add,          // +
    Sub,          // -
    Mul,          // *
    Quo,          // /
    Rem,          // %
    And,          // &
    Or,           // |
    Xor,          // ^
    Shl,          // <<
    Shr,          // >>
    AndNot,       // &^
    LogicalAnd,   // &&
    LogicalOr,    // ||
    Arrow,        // <-
    Eql,          // ==
    Lss,          // <
    Gtr,          // >
    Assign,       // =
    Not,          // !
    Neq,          // !=
    Leq,          // <=
    Geq,          // >=
    Define,       // :=
    Ellipsis,     // ...
    LParen,       // (
    LBrack,       // [
    LBrace,       // {
    Comma,        // ,
    Period,       // .
    RParen,       // )
    RBrack,       // ]
    RBrace,       // }
    Semicolon,    // ;
    Colon,        // :
    Tilde,        // ~
    OpAssign,     // += -= etc. (never valid in an expression)
    Increment,    // ++ --
}

/// <summary>One token: its kind, where it starts (0-based offset) and its source text.</summary>
internal readonly record struct Token(TokenKind Kind, int Pos, string Text)
{
    /// <summary>The unquoted value of a string or char literal.</summary>
    public string? Value { get; init; }

    public int End => Pos + Text.Length;

    /// <summary>How Go's parser names a token in "expected X, found Y".</summary>
    public string Describe() => Kind switch
    {
        TokenKind.Eof => "EOF",
        TokenKind.Semicolon when Text == "\n" => "newline",
        TokenKind.Keyword => "'" + Text + "'",
        TokenKind.Identifier or TokenKind.Int or TokenKind.Float or TokenKind.Imaginary or TokenKind.String or TokenKind.Char => Text,
        _ => "'" + Text + "'",
    };
}
