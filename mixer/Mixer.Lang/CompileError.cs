using System.Globalization;

namespace Mixer.Lang;

/// <summary>Why an expression does not compile: where (line, column, offset) and the reason.</summary>
public sealed class CompileError
{
    internal CompileError(string text, int offset, string reason)
    {
        Text = text;
        Offset = Math.Clamp(offset, 0, text.Length);
        Reason = reason;
        var line = 1;
        var column = 1;
        for (var i = 0; i < Offset; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }
        }

        Line = line;
        Column = column;
    }

    /// <summary>The expression text.</summary>
    public string Text { get; }

    /// <summary>0-based offset of the offending part in <see cref="Text"/>.</summary>
    public int Offset { get; }

    /// <summary>1-based line.</summary>
    public int Line { get; }

    /// <summary>1-based column.</summary>
    public int Column { get; }

    /// <summary>What is wrong (and, for a typo, the nearest valid name).</summary>
    public string Reason { get; }

    /// <summary><c>line:column: reason</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Line}:{Column}: {Reason}");
}

/// <summary>Thrown by <see cref="ExpressionCompiler.Compile"/> for text that does not compile.</summary>
public sealed class ExpressionCompileException : Exception
{
    /// <summary>Wraps <paramref name="error"/>.</summary>
    public ExpressionCompileException(CompileError error)
        : base($"expression '{error?.Text}': {error}")
    {
        Error = error!;
    }

    /// <summary>Not for use: an error is always given.</summary>
    public ExpressionCompileException()
        : this(new CompileError(string.Empty, 0, "unknown error"))
    {
    }

    /// <summary>Not for use: an error is always given.</summary>
    public ExpressionCompileException(string message)
        : this(new CompileError(string.Empty, 0, message))
    {
    }

    /// <summary>Not for use: an error is always given.</summary>
    public ExpressionCompileException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = new CompileError(string.Empty, 0, message);
    }

    /// <summary>Where and why.</summary>
    public CompileError Error { get; }
}
