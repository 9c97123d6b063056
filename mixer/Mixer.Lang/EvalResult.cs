using Mixer.Sdk;

namespace Mixer.Lang;

/// <summary>The outcome of one evaluation: a value, or the error message Istio would give.</summary>
public readonly struct EvalResult
{
    private EvalResult(AttributeValue value, string? error)
    {
        Value = value;
        Error = error;
    }

    /// <summary>The value; empty when <see cref="Error"/> is set.</summary>
    public AttributeValue Value { get; }

    /// <summary>Why evaluation failed (<c>lookup failed: 'x'</c>…), or null.</summary>
    public string? Error { get; }

    /// <summary>True when there is a value.</summary>
    public bool Succeeded => Error is null;

    /// <summary>A value.</summary>
    public static EvalResult Ok(AttributeValue value) => new(value, null);

    /// <summary>An error.</summary>
    public static EvalResult Failed(string error) => new(default, error ?? "unknown error");

    /// <inheritdoc/>
    public override string ToString() => Error is null ? $"{Value} ({Value.Type.ToIstioName()})" : "error: " + Error;
}
