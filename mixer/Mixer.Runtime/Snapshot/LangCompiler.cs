using Mixer.Lang;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Runtime.Snapshot;

/// <summary>The runtime's expression compiler: Mixer.Lang over one snapshot's attribute manifest.</summary>
internal sealed class LangCompiler(IReadOnlyDictionary<string, ValueType> manifest) : IExpressionCompiler
{
    private readonly ExpressionCompiler _compiler = new(new AttributeManifest(manifest));

    public bool TryCompile(string text, out ICompiledExpression expression, out string? error)
    {
        if (_compiler.TryCompile(text, out var compiled, out var compileError))
        {
            expression = new Compiled(compiled);
            error = null;
            return true;
        }

        expression = null!;
        error = compileError.ToString();
        return false;
    }

    private sealed class Compiled(CompiledExpression inner) : ICompiledExpression
    {
        public ValueType Type => inner.ResultType;

        public string Text => inner.Text;

        public bool TryEvaluate(IAttributeBag bag, out AttributeValue value, out string? error) => inner.TryEvaluate(bag, out value, out error);

        public bool TryEvaluateBool(IAttributeBag bag, out bool value, out string? error) => inner.TryEvaluateBool(bag, out value, out error);

        public override string ToString() => inner.Text;
    }
}
