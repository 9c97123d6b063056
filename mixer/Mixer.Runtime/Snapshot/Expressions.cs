using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Runtime.Snapshot;

/// <summary>A compiled expression as the runtime uses it.</summary>
internal interface ICompiledExpression
{
    /// <summary>The static type.</summary>
    ValueType Type { get; }

    /// <summary>The source text: two expressions of one snapshot with the same text evaluate alike.</summary>
    string Text { get; }

    /// <summary>Evaluates; false with a message on a runtime error (missing attribute, bad conversion).</summary>
    bool TryEvaluate(IAttributeBag bag, out AttributeValue value, out string? error);

    /// <summary>Evaluates a BOOL expression (a rule's match) without wrapping the value.</summary>
    bool TryEvaluateBool(IAttributeBag bag, out bool value, out string? error);
}

/// <summary>Compiles expression text against the attribute manifests of one snapshot.</summary>
internal interface IExpressionCompiler
{
    /// <summary>Parses and type-checks; false with the reason (position included) when it does not.</summary>
    bool TryCompile(string text, out ICompiledExpression expression, out string? error);
}
