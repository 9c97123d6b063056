using System.Linq.Expressions;
using Mixer.Lang.Compilation;
using Mixer.Lang.Runtime;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang;

/// <summary>
/// A compiled expression: immutable, thread-safe, reusable across requests. Evaluation reads
/// attributes through the bag (so a tracking bag records what was read) and reports failures as
/// values, never as exceptions.
/// </summary>
public sealed class CompiledExpression
{
    // One of these is set (by the result type); tiering replaces an interpreted delegate with the
    // compiled one, a single reference write that readers may see late, never torn.
    private Evaluator<bool>? _bool;
    private Evaluator<string>? _string;
    private Evaluator<long>? _long;
    private Evaluator<double>? _double;
    private Evaluator<AttributeValue>? _timestamp;
    private Evaluator<byte[]>? _bytes;
    private Evaluator<IStringMap>? _map;

    // The code still to compile to IL (tiered mode), until it is.
    private LambdaExpression? _pending;

    internal CompiledExpression(string text, ValueType resultType, Delegate evaluator)
    {
        Text = text;
        ResultType = resultType;
        Use(evaluator, compiled: true);
    }

    internal CompiledExpression(string text, ValueType resultType, LambdaExpression code, CompilationMode mode)
    {
        Text = text;
        ResultType = resultType;
        switch (mode)
        {
            case CompilationMode.Immediate:
                Use(code.Compile(), compiled: true);
                break;
            case CompilationMode.Interpreted:
                Use(code.Compile(preferInterpretation: true), compiled: false);
                break;
            default:
                Use(code.Compile(preferInterpretation: true), compiled: false);
                _pending = code;
                TierUp.Enqueue(this);
                break;
        }
    }

    /// <summary>True once evaluation runs compiled IL rather than the interpreter.</summary>
    public bool IsCompiled => _compiled;

    /// <summary>
    /// Compiles to IL now if tiering has not done so yet (for a caller that wants steady-state
    /// speed at once); does nothing in <see cref="CompilationMode.Interpreted"/> mode.
    /// </summary>
    public void CompileNow()
    {
        lock (_gate)
        {
            if (_pending is { } code)
            {
                Use(code.Compile(), compiled: true);
                _pending = null;
            }
        }
    }

    private readonly object _gate = new();
    private volatile bool _compiled;

    private void Use(Delegate evaluator, bool compiled)
    {
        Volatile.Write(ref _bool, evaluator as Evaluator<bool>);
        Volatile.Write(ref _string, evaluator as Evaluator<string>);
        Volatile.Write(ref _long, evaluator as Evaluator<long>);
        Volatile.Write(ref _double, evaluator as Evaluator<double>);
        Volatile.Write(ref _timestamp, evaluator as Evaluator<AttributeValue>);
        Volatile.Write(ref _bytes, evaluator as Evaluator<byte[]>);
        Volatile.Write(ref _map, evaluator as Evaluator<IStringMap>);
        _compiled = compiled;
    }

    /// <summary>The source text.</summary>
    public string Text { get; }

    /// <summary>The static type every successful evaluation has.</summary>
    public ValueType ResultType { get; }

    /// <summary>Evaluates to a typed value or an error.</summary>
    public EvalResult Evaluate(IAttributeBag bag)
    {
        // The two commonest types without the detour through TryEvaluate's AttributeValue.
        string? error;
        switch (ResultType)
        {
            case ValueType.Bool:
                return TryEvaluateBool(bag, out var b, out error) ? EvalResult.Ok(AttributeValue.Bool(b)) : EvalResult.Failed(error!);
            case ValueType.String:
                return TryEvaluateString(bag, out var s, out error) ? EvalResult.Ok(AttributeValue.String(s)) : EvalResult.Failed(error!);
            default:
                return TryEvaluate(bag, out var value, out error) ? EvalResult.Ok(value) : EvalResult.Failed(error!);
        }
    }

    /// <summary>Evaluates; false with the message on a runtime error.</summary>
    public bool TryEvaluate(IAttributeBag bag, out AttributeValue value, out string? error)
    {
        value = default;
        bool ok;
        switch (ResultType)
        {
            case ValueType.Bool:
                ok = TryEvaluateBool(bag, out var b, out error);
                if (ok)
                {
                    value = AttributeValue.Bool(b);
                }

                return ok;
            case ValueType.String or ValueType.DnsName or ValueType.EmailAddress or ValueType.Uri:
                ok = TryEvaluateString(bag, out var s, out error);
                if (ok)
                {
                    value = ResultType == ValueType.String ? AttributeValue.String(s) : AttributeValue.StringLike(ResultType, s);
                }

                return ok;
            case ValueType.Int64 or ValueType.Duration:
                ok = Run(_long, bag, out var l, out error);
                if (ok)
                {
                    value = ResultType == ValueType.Int64 ? AttributeValue.Int64(l) : AttributeValue.DurationNanos(l);
                }

                return ok;
            case ValueType.Double:
                ok = TryEvaluateDouble(bag, out var x, out error);
                if (ok)
                {
                    value = AttributeValue.Double(x);
                }

                return ok;
            case ValueType.Timestamp:
                ok = Run(_timestamp, bag, out var ts, out error);
                if (ok)
                {
                    value = ts;
                }

                return ok;
            case ValueType.IpAddress or ValueType.Bytes:
                ok = Run(_bytes, bag, out var bytes, out error);
                if (ok)
                {
                    value = ResultType == ValueType.IpAddress && bytes.Length is 4 or 16 ? AttributeValue.IpAddress(bytes) : AttributeValue.Bytes(bytes);
                }

                return ok;
            case ValueType.StringMap:
                ok = Run(_map, bag, out var map, out error);
                if (ok)
                {
                    value = AttributeValue.StringMap(map);
                }

                return ok;
            default:
                error = "expression has no value type";
                return false;
        }
    }

    /// <summary>Evaluates a BOOL expression (a rule's match). Istio treats an error as "no match".</summary>
    public bool TryEvaluateBool(IAttributeBag bag, out bool value, out string? error)
    {
        // The hot path of every rule match: Run's body, written out so nothing stands between
        // the caller and the compiled code but the guard.
        var evaluator = Typed(_bool, ValueType.Bool);
        ArgumentNullException.ThrowIfNull(bag);
        try
        {
            return evaluator(bag, out value, out error);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            value = false;
            error = Failure(e);
            return false;
        }
    }

    /// <summary>Evaluates a STRING, DNS_NAME, EMAIL_ADDRESS or URI expression.</summary>
    public bool TryEvaluateString(IAttributeBag bag, out string value, out string? error)
    {
        var evaluator = Typed(_string, ValueType.String);
        ArgumentNullException.ThrowIfNull(bag);
        try
        {
            if (evaluator(bag, out value, out error))
            {
                return true;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = Failure(e);
        }

        value = string.Empty;
        return false;
    }

    /// <summary>Evaluates an INT64 expression.</summary>
    public bool TryEvaluateInt64(IAttributeBag bag, out long value, out string? error) =>
        Run(ResultType == ValueType.Int64 ? _long : Typed<long>(null, ValueType.Int64), bag, out value, out error);

    /// <summary>Evaluates a DURATION expression, in nanoseconds.</summary>
    public bool TryEvaluateDurationNanos(IAttributeBag bag, out long value, out string? error) =>
        Run(ResultType == ValueType.Duration ? _long : Typed<long>(null, ValueType.Duration), bag, out value, out error);

    /// <summary>Evaluates a DOUBLE expression.</summary>
    public bool TryEvaluateDouble(IAttributeBag bag, out double value, out string? error) => Run(Typed(_double, ValueType.Double), bag, out value, out error);

    /// <inheritdoc/>
    public override string ToString() => $"{Text} : {ResultType.ToIstioName()}";

    private Evaluator<T> Typed<T>(Evaluator<T>? evaluator, ValueType asked) =>
        evaluator ?? throw new InvalidOperationException($"expression '{Text}' is {ResultType.ToIstioName()}, not {asked.ToIstioName()}");

    // A faulty bag or adapter-supplied map must not take the server down with it.
    private static string Failure(Exception e) => "evaluation failed: " + e.Message;

    private static bool Run<T>(Evaluator<T>? evaluator, IAttributeBag bag, out T value, out string? error)
    {
        ArgumentNullException.ThrowIfNull(bag);
        try
        {
            return evaluator!(bag, out value, out error);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            value = default!;
            error = Failure(e);
            return false;
        }
    }
}
