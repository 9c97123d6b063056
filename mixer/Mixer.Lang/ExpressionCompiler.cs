using Mixer.Lang.Checking;
using Mixer.Lang.Compilation;
using Mixer.Lang.Syntax;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang;

/// <summary>
/// Compiles CEXL text (Istio's config expression language) against an attribute manifest:
/// parse, type-check, fold constants, then generate a delegate. Thread-safe; keep one per
/// manifest (per config snapshot).
/// </summary>
public sealed class ExpressionCompiler
{
    /// <summary>A compiler for expressions over the attributes <paramref name="manifest"/> declares (tiered compilation).</summary>
    public ExpressionCompiler(IAttributeManifest manifest)
        : this(manifest, CompilationMode.Tiered)
    {
    }

    /// <summary>A compiler for expressions over the attributes <paramref name="manifest"/> declares.</summary>
    public ExpressionCompiler(IAttributeManifest manifest, CompilationMode mode)
    {
        Manifest = manifest ?? throw new ArgumentNullException(nameof(manifest));
        Mode = mode;
    }

    /// <summary>The vocabulary expressions are checked against.</summary>
    public IAttributeManifest Manifest { get; }

    /// <summary>How expressions become code.</summary>
    public CompilationMode Mode { get; }

    /// <summary>Compiles, or throws <see cref="ExpressionCompileException"/> saying where and why.</summary>
    public CompiledExpression Compile(string text) =>
        TryCompile(text, out var expression, out var error) ? expression : throw new ExpressionCompileException(error);

    /// <summary>Compiles; false with the error (position and reason) for a parse or type error.</summary>
    public bool TryCompile(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CompiledExpression? expression, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out CompileError? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        expression = null;
        if (!TryCheck(text, out var tree, out error))
        {
            return false;
        }

        var folded = Folder.Fold(tree);
        expression = new CompiledExpression(text, tree.Type, Emitter.EmitLambda(folded), Mode);
        return true;
    }

    /// <summary>The static type of <paramref name="text"/> without generating code (Istio's EvalType).</summary>
    public bool TryGetType(string text, out ValueType type, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out CompileError? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        type = TryCheck(text, out var tree, out error) ? tree.Type : ValueType.Unspecified;
        return error is null;
    }

    /// <summary>Parses and type-checks (for tools and tests that walk the tree).</summary>
    internal bool TryCheck(string text, out Expr tree, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out CompileError? error)
    {
        tree = null!;
        try
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                error = new CompileError(text, 0, "empty expression");
                return false;
            }

            tree = Parser.Parse(text);
            Checker.Check(tree, Manifest, text);
            error = null;
            return true;
        }
        catch (ParseException e)
        {
            error = new CompileError(text, e.Position, "unable to parse expression: " + e.Reason);
            return false;
        }
        catch (CheckException e)
        {
            error = new CompileError(text, e.Position, e.Reason);
            return false;
        }
    }
}
