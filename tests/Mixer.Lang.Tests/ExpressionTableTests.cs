using Mixer.Lang.Tests.Reference;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Tests;

public sealed class ExpressionTableTests
{
    private static readonly ExpressionCompiler Compiler = new(Cases.Manifest, CompilationMode.Immediate);

    // Tier 0 of tiered compilation: the same code, interpreted.
    private static readonly ExpressionCompiler Interpreter = new(Cases.Manifest, CompilationMode.Interpreted);

    [Theory]
    [MemberData(nameof(Cases.Data), MemberType = typeof(Cases))]
    public void Compiler_TableCase_GivesIstiosAnswer(Case c)
    {
        var compiled = Compiler.TryCompile(c.Expr, out var expression, out var error);
        if (c.CompileError is not null)
        {
            compiled.ShouldBeFalse($"'{c.Expr}' should not compile");
            error!.ToString().ShouldContain(c.CompileError, Shouldly.Case.Sensitive);
            return;
        }

        compiled.ShouldBeTrue($"'{c.Expr}' should compile: {error}");
        Check(c, expression!.Evaluate(Cases.Bag(c)), expression.ResultType);
    }

    [Theory]
    [MemberData(nameof(Cases.Runnable), MemberType = typeof(Cases))]
    public void Interpreter_TableCase_GivesIstiosAnswer(Case c)
    {
        var expression = Interpreter.Compile(c.Expr);
        expression.IsCompiled.ShouldBeFalse();
        Check(c, expression.Evaluate(Cases.Bag(c)), expression.ResultType);
    }

    [Theory]
    [MemberData(nameof(WireRunnable))]
    public void Compiler_TableCaseOverWireBag_GivesIstiosAnswer(Case c)
    {
        // The server's bag takes fast paths (strings straight from their slots, '|' runs in one call).
        var expression = Compiler.Compile(c.Expr);
        Check(c, expression.Evaluate(WireBags.From(c.Attrs.Select(a => KeyValuePair.Create(a.Name, Cases.ToValue(a.Value))))), expression.ResultType);
    }

    public static IEnumerable<object[]> WireRunnable => Cases.Runnable.Where(d => Encodable((Case)d[0]));

    // Durations travel as protobuf Durations built from TimeSpan here: whole 100 ns steps only.
    private static bool Encodable(Case c) =>
        c.Attrs.All(a => Cases.ToValue(a.Value) is var v && (v.Type != ValueType.Duration || v.AsDurationNanos % 100 == 0));

    [Theory]
    [MemberData(nameof(Cases.Runnable), MemberType = typeof(Cases))]
    public void TreeWalker_TableCase_GivesIstiosAnswer(Case c)
    {
        var walker = TreeWalker.For(c.Expr, Cases.Manifest);
        Compiler.TryGetType(c.Expr, out var type, out _).ShouldBeTrue();
        Check(c, walker.Evaluate(Cases.Bag(c)), type);
    }

    private static void Check(Case c, EvalResult result, ValueType staticType)
    {
        if (c.Error is not null)
        {
            result.Succeeded.ShouldBeFalse($"'{c}' should fail, got {result}");
            result.Error!.ShouldContain(c.Error, Shouldly.Case.Sensitive);
            return;
        }

        result.Succeeded.ShouldBeTrue($"'{c}' should evaluate, got {result}");
        var expected = Cases.ToValue(c.Result!);
        if (c.Result is byte[])
        {
            expected = expected.WithType(ValueType.IpAddress);
        }

        result.Value.Type.ShouldBe(staticType, $"'{c}' type");
        if (expected.Type == ValueType.IpAddress)
        {
            Runtime.Builtins.IpEqual(result.Value.AsBytes, expected.AsBytes).ShouldBeTrue($"'{c}' gave {result.Value}");
        }
        else
        {
            result.Value.ShouldBe(expected, $"'{c}'");
        }
    }
}
